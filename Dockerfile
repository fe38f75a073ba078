# gantry itself, as a CI job's image (examples/.gitlab-ci.yml, examples/github/deploy.yml):
#   docker build -t gantry:0.1.0 .
#   docker run --rm -v "$PWD:/work" gantry:0.1.0 validate -f examples/fastapi-app/gantry.yaml
#
# Two stages: the toolchain rust-toolchain.toml pins, with the wasm32-wasip2
# target the built-in plugins are compiled for (host/plugins embeds them),
# builds the one `gantry` binary; a slim Debian with CA certificates runs it
# as an unprivileged user. No helm, kubectl, aws or gcloud is needed: gantry
# talks to the clusters, clouds and registries itself.

# The channel in rust-toolchain.toml.
ARG RUST_VERSION=1.95.0
ARG DEBIAN=trixie

FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS build
# cmake and a C compiler for aws-lc-sys (the TLS library's crypto).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY rust-toolchain.toml ./
RUN rustup target add wasm32-wasip2 && rustup show active-toolchain
COPY . .
ENV CARGO_INCREMENTAL=0
RUN cargo build --release --locked -p gantry \
 && install -m 0755 target/release/gantry /usr/local/bin/gantry

FROM debian:${DEBIAN}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gantry \
 && useradd --system --uid 10001 --gid gantry --create-home --home-dir /home/gantry --shell /usr/sbin/nologin gantry
COPY --from=build /usr/local/bin/gantry /usr/local/bin/gantry
LABEL org.opencontainers.image.title="gantry" \
      org.opencontainers.image.description="Canary deployer: build, scan, canary on several clusters, analysis, promotion, rollback" \
      org.opencontainers.image.licenses="Apache-2.0"
# Compiled plugins are cached here between runs in one container.
ENV GANTRY_CACHE_DIR=/home/gantry/.cache/gantry
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["gantry"]
CMD ["--help"]
