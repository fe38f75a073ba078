FROM scratch
ENV A=1
COPY app /app
COPY config/ /etc/example/
WORKDIR /work
CMD ["/app/main.sh"]
