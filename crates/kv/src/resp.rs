//! RESP2, the Redis protocol, as pure functions: parse requests out of a
//! buffer, encode replies into one. The server (`kv serve`) does the I/O.
//!
//! A request is either a multibulk array (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`),
//! which is what clients send, or an inline line (`PING\r\n`), which is what
//! people type into `telnet`. Both are bounded: a request longer than the
//! caller's limit is a [`ProtocolError`], and the connection should close.

use std::fmt;

/// Most arguments in one request.
pub const ARGS_MAX: usize = 1 << 20;

/// Why bytes are not a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// A parsed request (its arguments) and the bytes it took, or `None` when
/// the buffer holds only part of one.
pub type Parsed = Option<(Vec<Vec<u8>>, usize)>;

fn error<T>(message: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(message.into()))
}

/// The line at the start of `buf` (without `\r\n`) and the bytes it takes,
/// or `None` if no full line is there yet.
fn line(buf: &[u8], request_bytes_max: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok(Some((&buf[..end], end + 2))),
        None if buf.len() > request_bytes_max => error("request too long"),
        None => Ok(None),
    }
}

fn number(digits: &[u8], what: &str) -> Result<i64, ProtocolError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or_else(|| error(format!("invalid {what}")), Ok)
}

// ANCHOR: parse
/// Parses one request from the start of `buf`: its arguments and the bytes
/// it took, `None` if `buf` holds only part of a request, or an error if the
/// bytes are malformed or the request exceeds `request_bytes_max`.
pub fn parse(buf: &[u8], request_bytes_max: usize) -> Result<Parsed, ProtocolError> {
    if buf.first() != Some(&b'*') {
        return parse_inline(buf, request_bytes_max);
    }
    let Some((header, mut at)) = line(buf, request_bytes_max)? else {
        return Ok(None);
    };
    let count = number(&header[1..], "multibulk length")?;
    if count > ARGS_MAX as i64 {
        return error("too many arguments");
    }
    let mut args = Vec::with_capacity(count.max(0) as usize);
    for _ in 0..count.max(0) {
        let Some((header, used)) = line(&buf[at..], request_bytes_max)? else {
            return Ok(None);
        };
        if header.first() != Some(&b'$') {
            return error(format!(
                "expected '$', got '{}'",
                header.first().map_or(' ', |&b| b as char)
            ));
        }
        let len = number(&header[1..], "bulk length")?;
        if len < 0 || len as usize > request_bytes_max {
            return error("invalid bulk length");
        }
        let start = at + used;
        let end = start + len as usize;
        if end + 2 > request_bytes_max.saturating_add(1024) {
            return error("request too long");
        }
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return error("bulk string not followed by CRLF");
        }
        args.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some((args, at)))
}
// ANCHOR_END: parse

fn parse_inline(buf: &[u8], request_bytes_max: usize) -> Result<Parsed, ProtocolError> {
    // Inline requests may end with a bare "\n", as typed by hand.
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > request_bytes_max {
            return error("request too long");
        }
        return Ok(None);
    };
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    Ok(Some((args, end + 1)))
}

/// Appends a simple string reply (`+OK`).
pub fn simple(out: &mut Vec<u8>, text: &str) {
    out.push(b'+');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends an error reply; `text` starts with its code (`ERR …`).
pub fn error_reply(out: &mut Vec<u8>, text: &str) {
    out.push(b'-');
    // An error is one line: no CR or LF inside.
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// Appends an integer reply.
pub fn integer(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(format!(":{n}\r\n").as_bytes());
}

/// Appends a bulk string reply, or the null bulk string for `None`.
pub fn bulk(out: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        Some(data) => {
            out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        None => out.extend_from_slice(b"$-1\r\n"),
    }
}

/// Appends an array header; the caller appends `len` elements.
pub fn array(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(format!("*{len}\r\n").as_bytes());
}

/// Whether `text` matches the Redis glob `pattern`: `*`, `?`, `[abc]`,
/// `[^a]`, `[a-z]` and `\` escapes.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index, text index).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(p + 1),
            Some(b'[') => class(pattern, p, text[t]),
            Some(b'\\') if p + 1 < pattern.len() => (pattern[p + 1] == text[t]).then_some(p + 2),
            Some(&c) => (c == text[t]).then_some(p + 1),
            None => None,
        };
        match (step, star) {
            (Some(next), _) => {
                p = next;
                t += 1;
            }
            (None, Some((star_p, star_t))) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[open] == b'['`;
/// the index after the class if it matches.
fn class(pattern: &[u8], open: usize, c: u8) -> Option<usize> {
    let mut i = open + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < pattern.len() && pattern[i] != b']' {
        if pattern[i] == b'\\' && i + 1 < pattern.len() {
            matched |= pattern[i + 1] == c;
            i += 2;
        } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' && pattern[i + 2] != b']' {
            let (lo, hi) = (
                pattern[i].min(pattern[i + 2]),
                pattern[i].max(pattern[i + 2]),
            );
            matched |= (lo..=hi).contains(&c);
            i += 3;
        } else {
            matched |= pattern[i] == c;
            i += 1;
        }
    }
    // An unclosed class matches like Redis: up to the end of the pattern.
    let after = (i + 1).min(pattern.len());
    (matched != negate).then_some(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_inline_partial_and_pipelined() {
        let req = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        let (first, used) = parse(req, 1024).unwrap().unwrap();
        assert_eq!(first, args(&["GET", "k"]));
        let (second, rest) = parse(&req[used..], 1024).unwrap().unwrap();
        assert_eq!((second, used + rest), (args(&["PING"]), req.len()));
        for cut in 0..used {
            assert_eq!(parse(&req[..cut], 1024).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(
            parse(b"PING hello\r\n", 1024).unwrap(),
            Some((args(&["PING", "hello"]), 12))
        );
        assert_eq!(parse(b"PING\n", 1024).unwrap(), Some((args(&["PING"]), 5)));
    }

    #[test]
    fn malformed_and_oversized_requests_are_errors() {
        assert!(parse(b"*1\r\n+PING\r\n", 1024).is_err());
        assert!(parse(b"*x\r\n", 1024).is_err());
        assert!(parse(b"*1\r\n$-5\r\n", 1024).is_err());
        assert!(parse(b"*1\r\n$2\r\nabcd\r\n", 1024).is_err());
        assert!(parse(b"*1\r\n$5000\r\n", 1024).is_err());
        assert!(parse(&[b'a'; 2000], 1024).is_err());
        assert!(parse(b"*99999999\r\n", 1024).is_err());
    }

    #[test]
    fn globs_match_like_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("user:*", "user:42", true),
            ("user:*", "users", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-c]llo", "hbllo", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b", "xxbxxa", false),
            ("", "", true),
            ("", "a", false),
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn replies_are_framed() {
        let mut out = Vec::new();
        simple(&mut out, "OK");
        error_reply(&mut out, "ERR bad\r\nthing");
        integer(&mut out, -3);
        bulk(&mut out, Some(b"v"));
        bulk(&mut out, None);
        array(&mut out, 0);
        assert_eq!(
            out,
            b"+OK\r\n-ERR bad  thing\r\n:-3\r\n$1\r\nv\r\n$-1\r\n*0\r\n"
        );
    }
}
