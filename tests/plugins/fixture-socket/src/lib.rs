//! `fixture-socket`: opens a TCP connection to 127.0.0.1 on the port its
//! settings name, through WASI sockets (`std::net`). Proves the sandbox has
//! no network.

use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    port: u16,
}

struct Socket;

impl Stage for Socket {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let port = input.settings.port;
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(_) => Ok(Output::new(format!("connected to 127.0.0.1:{port}")).with("connected", true)),
            Err(e) => Err(Failure::new(format!("could not connect to 127.0.0.1:{port}: {e}"))),
        }
    }
}

gantry_sdk::export_stage!(Socket);
