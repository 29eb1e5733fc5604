//! The smallest HTTP/1.1 client that does the job: blocking, over `std::net::TcpStream`, for the
//! floor client and for reading the simulator's counters.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;

use anyhow::{Context as _, bail};

/// `GET http://{authority}{path}` on a fresh connection; the body of a 200 answer.
pub fn get(authority: &str, path: &str) -> anyhow::Result<Vec<u8>> {
    let stream =
        TcpStream::connect(authority).with_context(|| format!("cannot connect to {authority}"))?;
    let mut stream = BufReader::new(stream);
    write!(
        stream.get_mut(),
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = Vec::new();
    read_response(&mut stream, &mut body).with_context(|| format!("GET {path}"))?;
    Ok(body)
}

/// Reads one response into `body` (replacing its contents); fails unless the status is 200.
pub fn read_response(stream: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut line = String::new();
    stream.read_line(&mut line)?;
    let status = line.split(' ').nth(1).unwrap_or_default().to_owned();
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 {
            bail!("the connection closed inside the headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    body.clear();
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)?;
            let start = body.len();
            body.resize(start + size, 0);
            stream.read_exact(&mut body[start..])?;
            line.clear();
            stream.read_line(&mut line)?;
            if size == 0 {
                break;
            }
        }
    } else {
        let length = length.context("a response without content-length or chunking")?;
        body.resize(length, 0);
        stream.read_exact(body)?;
    }
    if status != "200" {
        bail!(
            "answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    Ok(())
}
