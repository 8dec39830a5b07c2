//! Commands as bytes in Raft's log (contract 3 of [`replication::raft::App`]):
//! a tag byte, then the fields in order; byte strings and vectors carry
//! their length. Decoding refuses what encoding cannot write (a bad tag, a
//! length beyond the record, a non-finite component, attributes that are
//! not UTF-8) with [`io::ErrorKind::InvalidData`].

use std::io;

use replication::durable::{Decoder, Encoder};

use crate::command::{Command, Query, Search, Vector};

fn corrupt(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn vector(e: Encoder, v: &Vector) -> Encoder {
    let bytes: Vec<u8> = v
        .components()
        .iter()
        .flat_map(|c| c.to_le_bytes())
        .collect();
    e.bytes(&bytes)
}

fn read_vector(d: &mut Decoder<'_>) -> io::Result<Vector> {
    let bytes = d.bytes()?;
    if bytes.len() % 4 != 0 {
        return Err(corrupt("a vector of a length not a multiple of 4"));
    }
    let components = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Vector::new(components).map_err(|_| corrupt("a vector that is empty or not finite"))
}

fn opt_usize(e: Encoder, v: Option<usize>) -> Encoder {
    e.opt_i64(v.map(|n| n as i64))
}

fn read_opt_usize(d: &mut Decoder<'_>) -> io::Result<Option<usize>> {
    d.opt_i64()?
        .map(|n| usize::try_from(n).map_err(|_| corrupt(format!("a negative count {n}"))))
        .transpose()
}

fn opt_text(e: Encoder, v: Option<&str>) -> Encoder {
    match v {
        None => e.u8(0),
        Some(text) => e.u8(1).bytes(text.as_bytes()),
    }
}

fn text(d: &mut Decoder<'_>) -> io::Result<String> {
    String::from_utf8(d.bytes()?.to_vec()).map_err(|_| corrupt("text that is not UTF-8"))
}

fn read_opt_text(d: &mut Decoder<'_>) -> io::Result<Option<String>> {
    match d.u8()? {
        0 => Ok(None),
        1 => text(d).map(Some),
        flag => Err(corrupt(format!("bad option flag {flag}"))),
    }
}

/// Appends `command` to a log record.
pub(crate) fn encode(command: &Command, e: Encoder) -> Encoder {
    match command {
        Command::Add {
            key,
            element,
            vector: v,
            attributes,
            m,
            ef_construction,
            model,
        } => {
            let e = vector(e.u8(1).bytes(key).bytes(element), v);
            let e = opt_text(e, attributes.as_deref());
            opt_text(
                opt_usize(opt_usize(e, *m), *ef_construction),
                model.as_deref(),
            )
        }
        Command::Remove { key, element } => e.u8(2).bytes(key).bytes(element),
        Command::SetAttributes {
            key,
            element,
            attributes,
        } => e
            .u8(3)
            .bytes(key)
            .bytes(element)
            .bytes(attributes.as_bytes()),
        Command::Similar { key, search } => {
            let e = e.u8(4).bytes(key);
            let e = match &search.query {
                Query::Element(name) => e.u8(0).bytes(name),
                Query::Vector(v) => vector(e.u8(1), v),
            };
            let e = opt_usize(e.u64(search.count as u64), search.ef);
            let e = match search.epsilon_bits {
                None => e.u8(0),
                Some(bits) => e.u8(1).u64(bits),
            };
            let flags = u8::from(search.with_scores)
                | u8::from(search.with_attributes) << 1
                | u8::from(search.truth) << 2;
            opt_text(e, search.filter.as_deref()).u8(flags)
        }
        Command::Card { key } => e.u8(5).bytes(key),
        Command::Dim { key } => e.u8(6).bytes(key),
        Command::Embedding { key, element } => e.u8(7).bytes(key).bytes(element),
        Command::GetAttributes { key, element } => e.u8(8).bytes(key).bytes(element),
        Command::Info { key } => e.u8(9).bytes(key),
    }
}

/// Reads one command written by [`encode`].
pub(crate) fn decode(d: &mut Decoder<'_>) -> io::Result<Command> {
    let tag = d.u8()?;
    let key = d.bytes()?.to_vec();
    Ok(match tag {
        1 => Command::Add {
            key,
            element: d.bytes()?.to_vec(),
            vector: read_vector(d)?,
            attributes: read_opt_text(d)?,
            m: read_opt_usize(d)?,
            ef_construction: read_opt_usize(d)?,
            model: read_opt_text(d)?,
        },
        2 => Command::Remove {
            key,
            element: d.bytes()?.to_vec(),
        },
        3 => Command::SetAttributes {
            key,
            element: d.bytes()?.to_vec(),
            attributes: text(d)?,
        },
        4 => {
            let query = match d.u8()? {
                0 => Query::Element(d.bytes()?.to_vec()),
                1 => Query::Vector(read_vector(d)?),
                other => return Err(corrupt(format!("bad query kind {other}"))),
            };
            let count = usize::try_from(d.u64()?).map_err(|_| corrupt("a count beyond usize"))?;
            let ef = read_opt_usize(d)?;
            let epsilon_bits = match d.u8()? {
                0 => None,
                1 => Some(d.u64()?),
                flag => return Err(corrupt(format!("bad option flag {flag}"))),
            };
            let filter = read_opt_text(d)?;
            let flags = d.u8()?;
            if flags > 7 {
                return Err(corrupt(format!("bad search flags {flags}")));
            }
            Command::Similar {
                key,
                search: Search {
                    query,
                    count,
                    ef,
                    epsilon_bits,
                    filter,
                    with_scores: flags & 1 != 0,
                    with_attributes: flags & 2 != 0,
                    truth: flags & 4 != 0,
                },
            }
        }
        5 => Command::Card { key },
        6 => Command::Dim { key },
        7 => Command::Embedding {
            key,
            element: d.bytes()?.to_vec(),
        },
        8 => Command::GetAttributes {
            key,
            element: d.bytes()?.to_vec(),
        },
        9 => Command::Info { key },
        other => return Err(corrupt(format!("unknown vecstore command tag {other}"))),
    })
}

/// Appends `reply` (a forwarded request's answer, sent back to the node the
/// client is connected to).
pub(crate) fn encode_reply(reply: &crate::command::Reply, e: Encoder) -> Encoder {
    use crate::command::Reply;
    match reply {
        Reply::Simple(text) => e.u8(1).bytes(text.as_bytes()),
        Reply::Error(text) => e.u8(2).bytes(text.as_bytes()),
        Reply::Integer(n) => e.u8(3).i64(*n),
        Reply::Bulk(None) => e.u8(4),
        Reply::Bulk(Some(data)) => e.u8(5).bytes(data),
        Reply::Array(None) => e.u8(6),
        Reply::Array(Some(items)) => {
            let mut e = e.u8(7).u64(items.len() as u64);
            for item in items {
                e = encode_reply(item, e);
            }
            e
        }
        Reply::Double(value) => e.u8(8).u64(value.to_bits()),
        Reply::Map(entries) => {
            let mut e = e.u8(9).u64(entries.len() as u64);
            for (key, values) in entries {
                e = encode_reply(key, e).u64(values.len() as u64);
                for value in values {
                    e = encode_reply(value, e);
                }
            }
            e
        }
    }
}

/// Reads a reply written by [`encode_reply`]; arrays nest at most 8 deep.
pub(crate) fn decode_reply(d: &mut Decoder<'_>, depth: usize) -> io::Result<crate::command::Reply> {
    use crate::command::Reply;
    if depth > 8 {
        return Err(corrupt("a reply nested more than 8 deep"));
    }
    Ok(match d.u8()? {
        1 => Reply::Simple(text(d)?),
        2 => Reply::Error(text(d)?),
        3 => Reply::Integer(d.i64()?),
        4 => Reply::Bulk(None),
        5 => Reply::Bulk(Some(d.bytes()?.to_vec())),
        6 => Reply::Array(None),
        7 => {
            let n = d.u64()?;
            let mut items = Vec::new();
            for _ in 0..n {
                items.push(decode_reply(d, depth + 1)?);
            }
            Reply::Array(Some(items))
        }
        8 => Reply::Double(f64::from_bits(d.u64()?)),
        9 => {
            let n = d.u64()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                let key = decode_reply(d, depth + 1)?;
                let count = d.u64()?;
                let mut values = Vec::new();
                for _ in 0..count {
                    values.push(decode_reply(d, depth + 1)?);
                }
                entries.push((key, values));
            }
            Reply::Map(entries)
        }
        other => return Err(corrupt(format!("unknown reply tag {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Reply;

    #[test]
    fn replies_round_trip_and_damage_is_refused() {
        let reply = Reply::Array(Some(vec![
            Reply::text("a"),
            Reply::Integer(-3),
            Reply::Bulk(None),
            Reply::Array(None),
            Reply::Error("ERR x".into()),
            Reply::Simple("OK".into()),
            Reply::Double(-0.25),
            Reply::Map(vec![
                (Reply::text("k"), vec![Reply::Double(1.0)]),
                (
                    Reply::text("j"),
                    vec![Reply::Double(0.5), Reply::Bulk(None)],
                ),
            ]),
        ]));
        let bytes = encode_reply(&reply, Encoder::new()).finish();
        let mut d = Decoder::new(&bytes);
        assert_eq!(decode_reply(&mut d, 0).unwrap(), reply);
        d.end().unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_reply(&mut Decoder::new(&bytes[..cut]), 0).is_err());
        }
    }
}
