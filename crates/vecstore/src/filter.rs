//! `VSIM … FILTER expr`: Redis 8's filter expressions over an element's JSON
//! attributes, parsed once into a [`Filter`] and then evaluated per element.
//!
//! ```text
//! VADD movies VALUES 3 0.1 0.2 0.3 m1 SETATTR '{"year": 1984, "genre": "sf", "seen": true}'
//! VSIM movies VALUES 3 0.1 0.2 0.3 FILTER '.year >= 1980 and .genre in ["sf", "noir"]'
//! VSIM movies VALUES 3 0.1 0.2 0.3 FILTER '(.year - 2000) ** 2 < 100 and not .seen'
//! VSIM movies VALUES 3 0.1 0.2 0.3 FILTER '"f" in .genre'          # substring test
//! ```
//!
//! The language follows Redis's documentation: the vector-set guide
//! (<https://redis.io/docs/latest/develop/data-types/vector-sets/filtered-search/>)
//! and the module's own reference, section "FILTER expressions capabilities"
//! (<https://github.com/redis/redis/blob/unstable/modules/vector-sets/README.md>).
//! Those pages give the operators, the data types and what a missing field
//! does, but no precedence table; the precedence and associativity below are
//! those of Redis's implementation (`modules/vector-sets/expr.c`).
//!
//! # Grammar
//!
//! Whitespace (ASCII) may separate any two tokens. Keywords are lowercase.
//!
//! ```text
//! filter  = or ;
//! or      = and     { ("or"  | "||") and } ;
//! and     = compare { ("and" | "&&") compare } ;
//! compare = sum     { ("==" | "!=" | "<" | "<=" | ">" | ">=" | "in") sum } ;
//! sum     = product { ("+" | "-") product } ;
//! product = power   { ("*" | "/" | "%") power } ;
//! power   = unary [ "**" power ] ;                       (* right-associative *)
//! unary   = { "not" | "!" | "-" } primary ;
//! primary = number | "-"number | string | field | array | "(" or ")" ;
//! array   = "[" [ element { "," element } [ "," ] ] "]" ;  (* no nesting *)
//! element = [ "-" ] number | string ;
//! field   = "." name ;                                   (* a top-level key *)
//! name    = ( letter | digit | "_" ) { letter | digit | "_" } ;
//! number  = digits [ "." digits ] [ ("e" | "E") [ "+" | "-" ] digits ] ;  (* finite *)
//! digits  = digit { digit } ;
//! string  = '"' { char | escape } '"' | "'" { char | escape } "'" ;
//! escape  = "\" ( "\" | '"' | "'" | "n" | "r" | "t" ) ;
//! ```
//!
//! `"-"number` (a minus sign touching a number, where an operand is
//! expected) is one negative literal, as in Redis; `- 5` is the minus
//! operator applied to `5`. Both evaluate alike. Inside an array, `-`
//! always makes a negative literal.
//!
//! # Precedence
//!
//! | binds      | operators                                | associativity |
//! |------------|------------------------------------------|---------------|
//! | tightest   | prefix `not` `!` `-`                     | —             |
//! |            | `**`                                     | right         |
//! |            | `*` `/` `%`                              | left          |
//! |            | `+` `-`                                  | left          |
//! |            | `==` `!=` `<` `<=` `>` `>=` `in`         | left          |
//! |            | `and` `&&`                               | left          |
//! | loosest    | `or` `||`                                | left          |
//!
//! Prefix operators bind tighter than `**`, as in Redis (and as `!` does in
//! JavaScript): `-2 ** 2` is 4, and `not .a == 1` means `(not .a) == 1`.
//! Write `not (.a == 1)` for the other reading.
//!
//! # Semantics
//!
//! 1. **Values.** A value is a number (`f64`), a string or an array of
//!    numbers and strings. Every operator returns a number; comparisons and
//!    logical operators return 1 (true) or 0 (false).
//! 2. **Fields.** `.name` reads the key `name` of the element's JSON object.
//!    JSON numbers become numbers, strings strings, `true`/`false` become 1
//!    and 0 (Redis: "Booleans (converted to 1 or 0)"), and arrays whose items
//!    are all numbers or strings become arrays.
//! 3. **Missing fields skip the element.** If the attributes are absent, are
//!    not a JSON object, lack a field the expression reads, or hold `null`,
//!    an object or a mixed array there, the element does not match — whatever
//!    the rest of the expression says, even under `not` or `or` (Redis: "If a
//!    field is missing or invalid, the element is skipped without error").
//!    `and` and `or` therefore evaluate both sides. An expression that reads
//!    no field (`1 == 1`) matches every element, attributes or not.
//! 4. **Numbers from strings.** Arithmetic (`+ - * / % **`, prefix `-`) and
//!    ordering (`< <= > >=`) need numbers. A string converts if it is a whole
//!    number literal (Rust's `f64::from_str`: `"42"`, `"-1.5e3"`); any other
//!    string, or an array, cannot be converted and the element does not match
//!    (Redis: "a JSON value that cannot be converted to the expected type").
//!    So strings are never ordered alphabetically.
//! 5. **Equality.** Two numbers compare as `f64` (NaN equals nothing); two
//!    strings byte for byte; a number and a string are equal when the string
//!    converts (rule 4) to that number; two arrays when they have the same
//!    length and equal items in order; anything else is unequal. `==` and
//!    `!=` never skip an element.
//! 6. **`in`.** `x in [a, b, …]` is true when `x` equals (rule 5) an item;
//!    `"sub" in "text"` is a substring test (the empty string is in every
//!    string); any other pairing is false.
//! 7. **Truth.** A number is true unless it is 0 or NaN; a string unless it
//!    is empty; an array always. An element matches when the whole
//!    expression's value is true.
//! 8. **Arithmetic never fails.** It is IEEE `f64`: `x / 0` is ±infinity or
//!    NaN, `%` is the remainder with the sign of the dividend (`x % 0` is
//!    NaN), `10 ** 400` is infinity, and every comparison with NaN is false.
//!
//! # Invariants
//!
//! Every [`Filter`] that [`Filter::parse`] returns satisfies:
//!
//! 1. its syntax tree is at most [`Filter::MAX_DEPTH`] levels deep, so
//!    evaluating, printing, comparing or dropping it recurses at most that
//!    deep;
//! 2. its number literals are finite;
//! 3. its canonical form (`Display`, with every operation parenthesised) is
//!    at most [`Filter::MAX_TEXT_BYTES`] long and parses back to an equal
//!    `Filter`.
//!
//! Not checked at parse time: whether fields exist or have the right type.
//! That depends on each element and is decided by rules 3 and 4.
//!
//! # Limits
//!
//! * The text is at most [`Filter::MAX_TEXT_BYTES`] (4096) bytes, and so is
//!   its canonical form ([`FilterError::TooLong`], [`FilterError::CanonicalTooLong`]).
//! * Parentheses nest at most [`Filter::MAX_DEPTH`] (64) deep, and the
//!   syntax tree is at most that deep too, so a chain of more than 63
//!   `or`s is refused ([`FilterError::TooDeep`]): use `in [...]` instead.
//! * Evaluation costs time linear in the expression's size plus, for `in`,
//!   the sizes of the arrays and strings it scans; it allocates nothing.
//!
//! # Differences from Redis
//!
//! * Not supported: the `null` literal, which Redis's implementation accepts
//!   but its documentation does not mention; `true`/`false` literals, which
//!   Redis lacks too (write 1 and 0); nested selectors such as `.movie.year`,
//!   which Redis documents as unsupported ([`FilterError::NestedField`]).
//! * Field names are letters, digits and `_`. Redis's tokenizer also takes
//!   `-`, so in Redis `.a-1` reads a field named `a-1`; here it is `.a - 1`.
//! * Redis's implementation turns a string that is not a number into 0
//!   (`"abc" == 0` is true there, `"abc" < 1` too); here such a string is
//!   unequal to every number, and ordering or arithmetic on it skips the
//!   element, as the documentation describes.
//! * Unknown escapes (`"\q"`) and unknown words (`AND`, `true`) are errors
//!   here, with their position; Redis's tokenizer is looser.
//! * NaN is false here (as in JavaScript); Redis treats it as true.

use std::fmt::{self, Write as _};

use serde_json::Value as Json;

/// A parsed FILTER expression.
///
/// Parse once with [`Filter::parse`], then call [`Filter::matches`] for each
/// candidate element. `Display` prints the canonical form: every operation
/// in parentheses, keywords as words (`and`, `or`, `not`), which parses back
/// to an equal `Filter`; `.a + -.b * 2 > 1 && !.c` prints as
/// `(((.a + ((-.b) * 2)) > 1) and (not .c))`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
}

/// The syntax tree. Parentheses leave no node: they only group.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Field(String),
    Number(f64),
    Text(String),
    Array(Vec<Scalar>),
    Unary(Unary, Box<Expr>),
    Binary(Binary, Box<Expr>, Box<Expr>),
}

/// An array item: arrays hold literals only, as in Redis.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unary {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

impl Binary {
    /// Precedence level, loosest first; [`POW_LEVEL`] is the tightest.
    fn level(self) -> u8 {
        match self {
            Binary::Or => 0,
            Binary::And => 1,
            Binary::Eq
            | Binary::Ne
            | Binary::Lt
            | Binary::Le
            | Binary::Gt
            | Binary::Ge
            | Binary::In => 2,
            Binary::Add | Binary::Sub => 3,
            Binary::Mul | Binary::Div | Binary::Rem => 4,
            Binary::Pow => POW_LEVEL,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Binary::Or => "or",
            Binary::And => "and",
            Binary::Eq => "==",
            Binary::Ne => "!=",
            Binary::Lt => "<",
            Binary::Le => "<=",
            Binary::Gt => ">",
            Binary::Ge => ">=",
            Binary::In => "in",
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
            Binary::Rem => "%",
            Binary::Pow => "**",
        }
    }
}

/// The level of `**`, the only right-associative operator.
const POW_LEVEL: u8 = 5;

impl Filter {
    /// The longest expression text [`Filter::parse`] accepts, in bytes. The
    /// canonical form of every accepted filter fits in it too.
    pub const MAX_TEXT_BYTES: usize = 4096;

    /// The deepest nesting accepted: of parentheses in the text, and of
    /// operators in the syntax tree (a leaf is depth 1).
    pub const MAX_DEPTH: usize = 64;

    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] naming the byte offset of the first problem and,
    /// where it helps, what was expected there; see the grammar in the
    /// module documentation.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > Self::MAX_TEXT_BYTES {
            return Err(FilterError::TooLong {
                len_bytes: text.len(),
                max_bytes: Self::MAX_TEXT_BYTES,
            });
        }
        let mut parser = Parser {
            lexer: Lexer { text, pos: 0 },
            ahead: None,
            parens: 0,
        };
        let node = parser.binary(0)?;
        let end = parser.bump()?;
        if end.kind != Kind::End {
            return Err(parser.unexpected(&end, "an operator, or the end of the expression"));
        }
        debug_assert!(node.depth <= Self::MAX_DEPTH, "invariant 1");
        let filter = Filter { expr: node.expr };
        let mut canonical = ByteCount(0);
        // Writing into a counter cannot fail: `ByteCount::write_str` never errs.
        let _ = write!(canonical, "{filter}");
        if canonical.0 > Self::MAX_TEXT_BYTES {
            return Err(FilterError::CanonicalTooLong {
                canonical_bytes: canonical.0,
                max_bytes: Self::MAX_TEXT_BYTES,
            });
        }
        Ok(filter)
    }

    /// Whether an element whose attributes are `attributes` matches. `None`
    /// (no attributes) or a non-object JSON never matches an expression that
    /// reads a field.
    ///
    /// Never panics and never fails: a missing field, or a value of the
    /// wrong type, makes the element not match (module docs, rules 3 and 4).
    pub fn matches(&self, attributes: Option<&serde_json::Value>) -> bool {
        let object = attributes.and_then(Json::as_object);
        eval(&self.expr, object).is_ok_and(|value| truthy(&value))
    }
}

/// Counts the bytes of a formatted value without storing them.
struct ByteCount(usize);

impl fmt::Write for ByteCount {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.saturating_add(s.len());
        Ok(())
    }
}

/// Why a FILTER expression does not parse: typed, with the byte position
/// (`at`, an offset into the text) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text is longer than [`Filter::MAX_TEXT_BYTES`].
    #[error(
        "the expression is {len_bytes} bytes long; the limit is {max_bytes}: \
         shorten it, for example with `.f in [a, b, c]` instead of a chain of `or`s"
    )]
    TooLong {
        /// The text's length, in bytes.
        len_bytes: usize,
        /// [`Filter::MAX_TEXT_BYTES`].
        max_bytes: usize,
    },
    /// The expression's canonical form (every operation parenthesised) would
    /// be longer than [`Filter::MAX_TEXT_BYTES`], so it could not be parsed
    /// back.
    #[error(
        "the expression's fully parenthesised form is {canonical_bytes} bytes long; the \
         limit is {max_bytes}: shorten it, for example with `in [...]` instead of `or`s"
    )]
    CanonicalTooLong {
        /// The canonical form's length, in bytes.
        canonical_bytes: usize,
        /// [`Filter::MAX_TEXT_BYTES`].
        max_bytes: usize,
    },
    /// Parentheses, or operators in the syntax tree, nest deeper than
    /// [`Filter::MAX_DEPTH`].
    #[error(
        "the expression nests deeper than {max_depth} levels at byte {at}: flatten it, \
         for example with `.f in [a, b, c]` instead of a long chain of `or`s"
    )]
    TooDeep {
        /// Where the limit was crossed: a `(` or an operator.
        at: usize,
        /// [`Filter::MAX_DEPTH`].
        max_depth: usize,
    },
    /// A character that starts no token.
    #[error(
        "unexpected character {found:?} at byte {at}: an expression is made of .fields, \
         numbers, quoted strings, [arrays], parentheses and the operators \
         + - * / % ** == != < <= > >= in and or not && || !"
    )]
    UnexpectedChar {
        /// Where the character starts.
        at: usize,
        /// The character.
        found: char,
    },
    /// A string literal without its closing quote.
    #[error("the string starting at byte {at} has no closing quote")]
    UnterminatedString {
        /// Where the opening quote is.
        at: usize,
    },
    /// A backslash escape other than `\\ \" \' \n \r \t`.
    #[error(
        "unknown escape `\\{found}` at byte {at}: strings accept \\\\ \\\" \\' \\n \\r \\t; \
         write a backslash as \\\\"
    )]
    BadEscape {
        /// Where the backslash is.
        at: usize,
        /// The character after the backslash.
        found: char,
    },
    /// A malformed or non-finite number, such as `1.2.3`, `12abc` or `1e999`.
    #[error(
        "bad number `{text}` at byte {at}: write digits with an optional fraction and \
         exponent (`42`, `-1.5`, `2e-3`), finite in double precision"
    )]
    BadNumber {
        /// Where the number starts.
        at: usize,
        /// The offending text.
        text: String,
    },
    /// A nested selector such as `.movie.year`, which Redis does not support.
    #[error(
        "nested field `{path}` at byte {at}: only top-level attributes can be read \
         (`.year`, not `.movie.year`); store the value at the top level"
    )]
    NestedField {
        /// Where the selector starts.
        at: usize,
        /// The whole dotted path.
        path: String,
    },
    /// A bare word that is not one of the keywords `and`, `or`, `not`, `in`.
    #[error(
        "unknown word `{word}` at byte {at}: the keywords are lowercase `and` `or` `not` \
         `in`; read a field as `.{word}`, quote a string, and write booleans as 1 and 0"
    )]
    UnknownWord {
        /// Where the word starts.
        at: usize,
        /// The word.
        word: String,
    },
    /// A token that cannot stand here.
    #[error("unexpected {found} at byte {at}: expected {expected}")]
    UnexpectedToken {
        /// Where the token starts.
        at: usize,
        /// The token, quoted (shortened if long).
        found: String,
        /// What the grammar allows here.
        expected: &'static str,
    },
    /// The text ended where the grammar needs more.
    #[error("the expression ends at byte {at}, but expected {expected}")]
    UnexpectedEnd {
        /// The text's length.
        at: usize,
        /// What the grammar needed.
        expected: &'static str,
    },
}

// ---------------------------------------------------------------- lexer --

/// What a token is; `Binary(Sub)` doubles as prefix minus.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Number(f64),
    Text(String),
    Field(String),
    Binary(Binary),
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

/// A token and its byte span `at..end` in the text.
#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    at: usize,
    end: usize,
}

/// Splits the text into tokens on demand, so the first error in text order
/// is the one reported.
struct Lexer<'t> {
    text: &'t str,
    pos: usize,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn next_token(&mut self) -> Result<Token, FilterError> {
        let bytes = self.text.as_bytes();
        while bytes.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(c) = self.text[at..].chars().next() else {
            return Ok(Token {
                kind: Kind::End,
                at,
                end: at,
            });
        };
        let kind = match c {
            '0'..='9' => self.number(at)?,
            '"' | '\'' => self.string(at, c)?,
            '.' => self.field(at)?,
            c if c.is_ascii_alphabetic() || c == '_' => self.word(at)?,
            _ => self.symbol(at, c)?,
        };
        debug_assert!(self.pos > at, "every token consumes text");
        Ok(Token {
            kind,
            at,
            end: self.pos,
        })
    }

    /// The end of the run of bytes from `from` that satisfy `keep`.
    fn run(&self, from: usize, keep: impl Fn(u8) -> bool) -> usize {
        let bytes = self.text.as_bytes();
        let mut end = from;
        while bytes.get(end).is_some_and(|&b| keep(b)) {
            end += 1;
        }
        end
    }

    fn number(&mut self, at: usize) -> Result<Kind, FilterError> {
        let text = self.text;
        let bytes = text.as_bytes();
        let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
        let mut end = self.run(at, |b| b.is_ascii_digit());
        if bytes.get(end) == Some(&b'.') && digit(end + 1) {
            end = self.run(end + 1, |b| b.is_ascii_digit());
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
            if digit(end + 1 + sign) {
                end = self.run(end + 1 + sign, |b| b.is_ascii_digit());
            }
        }
        let glued = |b: u8| is_name_byte(b) || b == b'.';
        let bad_end = self.run(end, glued);
        let bad = || FilterError::BadNumber {
            at,
            text: text[at..bad_end].to_string(),
        };
        if bad_end > end {
            return Err(bad());
        }
        match text[at..end].parse::<f64>() {
            Ok(x) if x.is_finite() => {
                self.pos = end;
                Ok(Kind::Number(x))
            }
            _ => Err(bad()),
        }
    }

    fn string(&mut self, at: usize, quote: char) -> Result<Kind, FilterError> {
        let body = at + quote.len_utf8();
        let mut value = String::new();
        let mut chars = self.text[body..].char_indices();
        while let Some((offset, c)) = chars.next() {
            if c == quote {
                self.pos = body + offset + c.len_utf8();
                return Ok(Kind::Text(value));
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let Some((_, escaped)) = chars.next() else {
                break;
            };
            value.push(match escaped {
                '\\' | '"' | '\'' => escaped,
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                found => {
                    return Err(FilterError::BadEscape {
                        at: body + offset,
                        found,
                    });
                }
            });
        }
        Err(FilterError::UnterminatedString { at })
    }

    fn field(&mut self, at: usize) -> Result<Kind, FilterError> {
        let end = self.run(at + 1, is_name_byte);
        if end == at + 1 {
            return Err(FilterError::UnexpectedChar { at, found: '.' });
        }
        let bytes = self.text.as_bytes();
        if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(|&b| is_name_byte(b)) {
            let path_end = self.run(end, |b| is_name_byte(b) || b == b'.');
            let path = self.text[at..path_end].to_string();
            return Err(FilterError::NestedField { at, path });
        }
        self.pos = end;
        Ok(Kind::Field(self.text[at + 1..end].to_string()))
    }

    fn word(&mut self, at: usize) -> Result<Kind, FilterError> {
        let end = self.run(at, is_name_byte);
        let kind = match &self.text[at..end] {
            "and" => Kind::Binary(Binary::And),
            "or" => Kind::Binary(Binary::Or),
            "in" => Kind::Binary(Binary::In),
            "not" => Kind::Not,
            word => {
                return Err(FilterError::UnknownWord {
                    at,
                    word: word.to_string(),
                });
            }
        };
        self.pos = end;
        Ok(kind)
    }

    fn symbol(&mut self, at: usize, c: char) -> Result<Kind, FilterError> {
        let next = self.text.as_bytes().get(at + 1).copied();
        let (kind, len) = match (c, next) {
            ('*', Some(b'*')) => (Kind::Binary(Binary::Pow), 2),
            ('=', Some(b'=')) => (Kind::Binary(Binary::Eq), 2),
            ('!', Some(b'=')) => (Kind::Binary(Binary::Ne), 2),
            ('<', Some(b'=')) => (Kind::Binary(Binary::Le), 2),
            ('>', Some(b'=')) => (Kind::Binary(Binary::Ge), 2),
            ('&', Some(b'&')) => (Kind::Binary(Binary::And), 2),
            ('|', Some(b'|')) => (Kind::Binary(Binary::Or), 2),
            ('*', _) => (Kind::Binary(Binary::Mul), 1),
            ('/', _) => (Kind::Binary(Binary::Div), 1),
            ('%', _) => (Kind::Binary(Binary::Rem), 1),
            ('+', _) => (Kind::Binary(Binary::Add), 1),
            ('-', _) => (Kind::Binary(Binary::Sub), 1),
            ('<', _) => (Kind::Binary(Binary::Lt), 1),
            ('>', _) => (Kind::Binary(Binary::Gt), 1),
            ('!', _) => (Kind::Not, 1),
            ('(', _) => (Kind::LParen, 1),
            (')', _) => (Kind::RParen, 1),
            ('[', _) => (Kind::LBracket, 1),
            (']', _) => (Kind::RBracket, 1),
            (',', _) => (Kind::Comma, 1),
            (found, _) => return Err(FilterError::UnexpectedChar { at, found }),
        };
        self.pos = at + len;
        Ok(kind)
    }
}

// --------------------------------------------------------------- parser --

/// What may start an operand.
const OPERAND: &str = "an operand: a number, a quoted string, a .field, `[`, `(`, `not` or `-`";
/// What may follow `[` or `,` in an array.
const ELEMENT: &str = "an array element (a number or a quoted string) or `]`";

/// A subtree and its depth (a leaf is 1), kept to enforce invariant 1.
struct Node {
    expr: Expr,
    depth: usize,
}

impl Node {
    fn leaf(expr: Expr) -> Node {
        Node { expr, depth: 1 }
    }

    fn checked(expr: Expr, depth: usize, at: usize) -> Result<Node, FilterError> {
        if depth > Filter::MAX_DEPTH {
            return Err(FilterError::TooDeep {
                at,
                max_depth: Filter::MAX_DEPTH,
            });
        }
        Ok(Node { expr, depth })
    }

    fn unary(op: Unary, operand: Node, at: usize) -> Result<Node, FilterError> {
        let depth = operand.depth + 1;
        Node::checked(Expr::Unary(op, Box::new(operand.expr)), depth, at)
    }

    fn binary(op: Binary, left: Node, right: Node, at: usize) -> Result<Node, FilterError> {
        let depth = left.depth.max(right.depth) + 1;
        let expr = Expr::Binary(op, Box::new(left.expr), Box::new(right.expr));
        Node::checked(expr, depth, at)
    }
}

/// Precedence climbing with one loop per level. The parser recurses only
/// into parentheses (at most [`Filter::MAX_DEPTH`] deep) and across the six
/// levels, so no input can exhaust the stack.
struct Parser<'t> {
    lexer: Lexer<'t>,
    ahead: Option<Token>,
    parens: usize,
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&Token, FilterError> {
        let token = match self.ahead.take() {
            Some(token) => token,
            None => self.lexer.next_token()?,
        };
        Ok(self.ahead.insert(token))
    }

    fn bump(&mut self) -> Result<Token, FilterError> {
        match self.ahead.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    /// The error for `token` standing where `expected` should.
    fn unexpected(&self, token: &Token, expected: &'static str) -> FilterError {
        if token.kind == Kind::End {
            return FilterError::UnexpectedEnd {
                at: token.at,
                expected,
            };
        }
        let text = &self.lexer.text[token.at..token.end];
        let found = match text.char_indices().nth(24) {
            Some((cut, _)) => format!("`{}…`", &text[..cut]),
            None => format!("`{text}`"),
        };
        FilterError::UnexpectedToken {
            at: token.at,
            found,
            expected,
        }
    }

    /// Parses the binary operators of `level` and tighter.
    fn binary(&mut self, level: u8) -> Result<Node, FilterError> {
        if level == POW_LEVEL {
            return self.power();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            let (op, at) = match self.peek()? {
                Token {
                    kind: Kind::Binary(op),
                    at,
                    ..
                } if op.level() == level => (*op, *at),
                _ => return Ok(left),
            };
            self.bump()?;
            let right = self.binary(level + 1)?;
            left = Node::binary(op, left, right, at)?;
        }
    }

    /// `unary { "**" unary }`, folded from the right.
    fn power(&mut self) -> Result<Node, FilterError> {
        let mut lefts: Vec<(Node, usize)> = Vec::new();
        let mut last = self.unary()?;
        while let Token {
            kind: Kind::Binary(Binary::Pow),
            at,
            ..
        } = *self.peek()?
        {
            self.bump()?;
            lefts.push((last, at));
            last = self.unary()?;
        }
        while let Some((left, at)) = lefts.pop() {
            last = Node::binary(Binary::Pow, left, last, at)?;
        }
        Ok(last)
    }

    /// `{ "not" | "!" | "-" } primary`, with `-` touching a number folded
    /// into a negative literal.
    fn unary(&mut self) -> Result<Node, FilterError> {
        let mut prefixes: Vec<(Unary, usize)> = Vec::new();
        let operand = loop {
            let token = self.bump()?;
            match token.kind {
                Kind::Not => prefixes.push((Unary::Not, token.at)),
                Kind::Binary(Binary::Sub) => {
                    if let Token {
                        kind: Kind::Number(x),
                        at,
                        ..
                    } = *self.peek()?
                        && at == token.end
                    {
                        self.bump()?;
                        break Node::leaf(Expr::Number(-x));
                    }
                    prefixes.push((Unary::Neg, token.at));
                }
                _ => break self.primary(token)?,
            }
        };
        let mut node = operand;
        while let Some((op, at)) = prefixes.pop() {
            node = Node::unary(op, node, at)?;
        }
        Ok(node)
    }

    fn primary(&mut self, token: Token) -> Result<Node, FilterError> {
        match token.kind {
            Kind::Number(x) => Ok(Node::leaf(Expr::Number(x))),
            Kind::Text(text) => Ok(Node::leaf(Expr::Text(text))),
            Kind::Field(name) => Ok(Node::leaf(Expr::Field(name))),
            Kind::LBracket => self.array(),
            Kind::LParen => self.group(token.at),
            _ => Err(self.unexpected(&token, OPERAND)),
        }
    }

    /// After `(`: the inner expression and its `)`.
    fn group(&mut self, open_at: usize) -> Result<Node, FilterError> {
        if self.parens >= Filter::MAX_DEPTH {
            return Err(FilterError::TooDeep {
                at: open_at,
                max_depth: Filter::MAX_DEPTH,
            });
        }
        self.parens += 1;
        let inner = self.binary(0)?;
        self.parens -= 1;
        let close = self.bump()?;
        match close.kind {
            Kind::RParen => Ok(inner),
            _ => Err(self.unexpected(&close, "`)` or an operator")),
        }
    }

    /// After `[`: literals separated by commas, an optional trailing comma,
    /// and `]`.
    fn array(&mut self) -> Result<Node, FilterError> {
        let mut items = Vec::new();
        loop {
            let token = self.bump()?;
            let item = match token.kind {
                Kind::RBracket => break,
                Kind::Number(x) => Scalar::Number(x),
                Kind::Text(text) => Scalar::Text(text),
                Kind::Binary(Binary::Sub) => {
                    let number = self.bump()?;
                    match number.kind {
                        Kind::Number(x) => Scalar::Number(-x),
                        _ => return Err(self.unexpected(&number, "a number after `-`")),
                    }
                }
                _ => return Err(self.unexpected(&token, ELEMENT)),
            };
            items.push(item);
            let separator = self.bump()?;
            match separator.kind {
                Kind::Comma => {}
                Kind::RBracket => break,
                _ => return Err(self.unexpected(&separator, "`,` or `]`")),
            }
        }
        Ok(Node::leaf(Expr::Array(items)))
    }
}

// -------------------------------------------------------------- display --

impl fmt::Display for Filter {
    /// The canonical form: every operation in parentheses, keywords as words.
    /// It parses back to an equal filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(&self.expr, f)
    }
}

fn write_expr(expr: &Expr, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match expr {
        Expr::Field(name) => write!(f, ".{name}"),
        Expr::Number(x) => write_number(*x, f),
        Expr::Text(text) => write_text(text, f),
        Expr::Array(items) => {
            f.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                match item {
                    Scalar::Number(x) => write_number(*x, f)?,
                    Scalar::Text(text) => write_text(text, f)?,
                }
            }
            f.write_char(']')
        }
        Expr::Unary(Unary::Not, operand) => {
            f.write_str("(not ")?;
            write_expr(operand, f)?;
            f.write_char(')')
        }
        Expr::Unary(Unary::Neg, operand) => {
            f.write_str("(-")?;
            // `(- 5)` is minus applied to 5; `-5` is a literal.
            if matches!(**operand, Expr::Number(_)) {
                f.write_char(' ')?;
            }
            write_expr(operand, f)?;
            f.write_char(')')
        }
        Expr::Binary(op, left, right) => {
            f.write_char('(')?;
            write_expr(left, f)?;
            write!(f, " {} ", op.symbol())?;
            write_expr(right, f)?;
            f.write_char(')')
        }
    }
}

/// The shorter of plain and scientific notation; both parse back exactly.
fn write_number(x: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let plain = format!("{x}");
    let scientific = format!("{x:e}");
    f.write_str(if scientific.len() < plain.len() {
        &scientific
    } else {
        &plain
    })
}

/// Quoted with whichever quote the text holds fewer of (double on a tie).
fn write_text(text: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let doubles = text.matches('"').count();
    let singles = text.matches('\'').count();
    let quote = if doubles > singles { '\'' } else { '"' };
    f.write_char(quote)?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

// ------------------------------------------------------------ evaluation --

/// The element does not match: a field is missing or invalid, or a value
/// has no number for an operator that needs one (module docs, rules 3–4).
struct Skip;

/// A value during evaluation, borrowed from the filter or the attributes.
#[derive(Clone, Copy)]
enum Val<'a> {
    Num(f64),
    Text(&'a str),
    Items(Items<'a>),
}

/// An array: literal items from the filter, or a JSON array from the
/// attributes whose items were checked to be numbers and strings.
#[derive(Clone, Copy)]
enum Items<'a> {
    Literal(&'a [Scalar]),
    Json(&'a [Json]),
}

impl<'a> Items<'a> {
    fn len(self) -> usize {
        match self {
            Items::Literal(items) => items.len(),
            Items::Json(items) => items.len(),
        }
    }

    fn get(self, i: usize) -> Option<Val<'a>> {
        match self {
            Items::Literal(items) => items.get(i).map(|item| match item {
                Scalar::Number(x) => Val::Num(*x),
                Scalar::Text(text) => Val::Text(text),
            }),
            Items::Json(items) => items.get(i).and_then(|item| json_value(item).ok()),
        }
    }
}

fn eval<'a>(
    expr: &'a Expr,
    object: Option<&'a serde_json::Map<String, Json>>,
) -> Result<Val<'a>, Skip> {
    Ok(match expr {
        Expr::Field(name) => json_value(object.ok_or(Skip)?.get(name).ok_or(Skip)?)?,
        Expr::Number(x) => Val::Num(*x),
        Expr::Text(text) => Val::Text(text),
        Expr::Array(items) => Val::Items(Items::Literal(items)),
        Expr::Unary(op, operand) => {
            let value = eval(operand, object)?;
            match op {
                Unary::Not => truth(!truthy(&value)),
                Unary::Neg => Val::Num(-number(&value)?),
            }
        }
        Expr::Binary(op, left, right) => {
            // Both sides, always: a missing field anywhere skips the element.
            let left = eval(left, object)?;
            let right = eval(right, object)?;
            apply(*op, &left, &right)?
        }
    })
}

fn apply<'a>(op: Binary, left: &Val<'a>, right: &Val<'a>) -> Result<Val<'a>, Skip> {
    let arithmetic = |f: fn(f64, f64) -> f64| -> Result<Val<'a>, Skip> {
        Ok(Val::Num(f(number(left)?, number(right)?)))
    };
    let ordering = |f: fn(&f64, &f64) -> bool| -> Result<Val<'a>, Skip> {
        Ok(truth(f(&number(left)?, &number(right)?)))
    };
    match op {
        Binary::Or => Ok(truth(truthy(left) || truthy(right))),
        Binary::And => Ok(truth(truthy(left) && truthy(right))),
        Binary::Eq => Ok(truth(equal(left, right))),
        Binary::Ne => Ok(truth(!equal(left, right))),
        Binary::In => Ok(truth(contains(left, right))),
        Binary::Lt => ordering(f64::lt),
        Binary::Le => ordering(f64::le),
        Binary::Gt => ordering(f64::gt),
        Binary::Ge => ordering(f64::ge),
        Binary::Add => arithmetic(|a, b| a + b),
        Binary::Sub => arithmetic(|a, b| a - b),
        Binary::Mul => arithmetic(|a, b| a * b),
        Binary::Div => arithmetic(|a, b| a / b),
        Binary::Rem => arithmetic(|a, b| a % b),
        Binary::Pow => arithmetic(f64::powf),
    }
}

/// A field's JSON value as an expression value (module docs, rule 2).
fn json_value(value: &Json) -> Result<Val<'_>, Skip> {
    match value {
        Json::Number(n) => n.as_f64().map(Val::Num).ok_or(Skip),
        Json::String(text) => Ok(Val::Text(text)),
        Json::Bool(b) => Ok(Val::Num(if *b { 1.0 } else { 0.0 })),
        Json::Array(items) if items.iter().all(|i| i.is_number() || i.is_string()) => {
            Ok(Val::Items(Items::Json(items)))
        }
        Json::Array(_) | Json::Null | Json::Object(_) => Err(Skip),
    }
}

fn truth(b: bool) -> Val<'static> {
    Val::Num(if b { 1.0 } else { 0.0 })
}

/// Rule 7.
fn truthy(value: &Val<'_>) -> bool {
    match value {
        Val::Num(x) => *x != 0.0 && !x.is_nan(),
        Val::Text(text) => !text.is_empty(),
        Val::Items(_) => true,
    }
}

/// Rule 4.
fn number(value: &Val<'_>) -> Result<f64, Skip> {
    match value {
        Val::Num(x) => Ok(*x),
        Val::Text(text) => text.parse().map_err(|_| Skip),
        Val::Items(_) => Err(Skip),
    }
}

/// Rule 5.
fn equal(left: &Val<'_>, right: &Val<'_>) -> bool {
    match (left, right) {
        (Val::Num(a), Val::Num(b)) => a == b,
        (Val::Text(a), Val::Text(b)) => a == b,
        (Val::Num(x), Val::Text(text)) | (Val::Text(text), Val::Num(x)) => {
            text.parse::<f64>().is_ok_and(|y| y == *x)
        }
        (Val::Items(a), Val::Items(b)) => {
            a.len() == b.len()
                && (0..a.len()).all(|i| match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => equal(&x, &y),
                    _ => false,
                })
        }
        (Val::Items(_), _) | (_, Val::Items(_)) => false,
    }
}

/// Rule 6.
fn contains(needle: &Val<'_>, haystack: &Val<'_>) -> bool {
    match haystack {
        Val::Items(items) => {
            (0..items.len()).any(|i| items.get(i).is_some_and(|item| equal(needle, &item)))
        }
        Val::Text(text) => matches!(needle, Val::Text(sub) if text.contains(*sub)),
        Val::Num(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use serde_json::json;

    use super::*;

    /// Parses `expr` and checks whether it matches the attributes `attrs`.
    fn check(expr: &str, attrs: &Json, expected: bool) {
        let filter = Filter::parse(expr).unwrap_or_else(|e| panic!("`{expr}` does not parse: {e}"));
        assert_eq!(filter.matches(Some(attrs)), expected, "`{expr}` on {attrs}");
    }

    fn person() -> Json {
        json!({
            "age": 31, "city": "Paris", "a": 1, "b": 5, "c": 0, "zero": 0,
            "active": true, "off": false, "digits": "42", "empty": "",
            "tags": ["x", 2, "y"], "mixed": [1, null], "none": null, "obj": {"k": 1},
        })
    }

    #[test]
    fn arithmetic_operators() {
        let p = person();
        for (expr, expected) in [
            (".age + 1 == 32", true),
            (".age - 1 == 30", true),
            (".age * 2 == 62", true),
            (".age / 2 == 15.5", true),
            (".age % 7 == 3", true),
            ("-.age % 7 == -3", true),
            (".b ** 2 == 25", true),
            ("2 ** 3 ** 2 == 512", true),
            ("-2 ** 2 == 4", true),
            ("- 2 ** 2 == 4", true),
            ("(-(2 ** 2)) == -4", true),
            ("10 - 2 - 3 == 5", true),
            ("64 / 4 / 2 == 8", true),
            (".digits + 1 == 43", true),
            ("1.5e2 == 150 and 2E-1 == 0.2", true),
        ] {
            check(expr, &p, expected);
        }
    }

    #[test]
    fn comparison_operators() {
        let p = person();
        for (expr, expected) in [
            (".age == 31", true),
            (".age != 31", false),
            (".age < 31", false),
            (".age <= 31", true),
            (".age > 30", true),
            (".age >= 32", false),
            ("1 == 1 == 1", true),
        ] {
            check(expr, &p, expected);
        }
    }

    #[test]
    fn logical_operators_in_words_and_symbols() {
        let p = person();
        for (expr, expected) in [
            (".a and .b", true),
            (".a && .c", false),
            (".c or .a", true),
            (".c || .zero", false),
            ("not .c", true),
            ("!.a", false),
            ("!!.a", true),
            ("not not .a", true),
            ("!(.age == 31)", false),
            ("not .empty and .city", true),
        ] {
            check(expr, &p, expected);
        }
    }

    #[test]
    fn precedence_follows_redis() {
        let expr = ".a + .b * 2 > 10 and not .c";
        let explicit = "(((.a + (.b * 2)) > 10) and (not .c))";
        assert_eq!(Filter::parse(expr), Filter::parse(explicit));
        assert_eq!(
            Filter::parse(expr).unwrap().to_string(),
            "(((.a + (.b * 2)) > 10) and (not .c))"
        );
        check(expr, &json!({"a": 1, "b": 5, "c": 0}), true);
        check(expr, &json!({"a": 1, "b": 5, "c": 1}), false);
        check(expr, &json!({"a": 0, "b": 5, "c": 0}), false);
        // `or` is looser than `and`; prefix operators are tighter than `**`.
        assert_eq!(
            Filter::parse(".a or .b and .c"),
            Filter::parse(".a or (.b and .c)")
        );
        assert_eq!(Filter::parse("not .a == 1"), Filter::parse("(not .a) == 1"));
        assert_eq!(Filter::parse("-.a ** 2"), Filter::parse("(-.a) ** 2"));
        assert_eq!(
            Filter::parse(".a in [1] == 1"),
            Filter::parse("(.a in [1]) == 1")
        );
        check("not .age == 1", &person(), false);
        check("not (.age == 1)", &person(), true);
    }

    #[test]
    fn in_tests_membership_and_substrings() {
        let p = person();
        for (expr, expected) in [
            (".city in [\"Rome\", \"Paris\"]", true),
            (".city in ['Rome', 'Oslo']", false),
            (".age in [30, 31, 32,]", true),
            (".age in []", false),
            (".digits in [42]", true),
            ("-1 in [-1]", true),
            ("\"ar\" in .city", true),
            ("\"\" in .city", true),
            ("\"Parisian\" in .city", false),
            (".city in \"\"", false),
            ("\"x\" in .tags and 2 in .tags", true),
            ("\"z\" in .tags", false),
            ("3 in 345", false),
            (".tags == [\"x\", 2, \"y\"]", true),
            (".tags", true),
        ] {
            check(expr, &p, expected);
        }
    }

    #[test]
    fn strings_compare_byte_for_byte_and_convert_when_numeric() {
        let p = person();
        for (expr, expected) in [
            (".city == \"Paris\"", true),
            (".city == 'paris'", false),
            (".city != \"Rome\"", true),
            (".digits == 42", true),
            (".city == 0", false),
            ("\"O'Brien\" == 'O\\'Brien'", true),
            ("'tab\\there' == \"tab\there\"", true),
            (".city > 1", false),
            ("not (.city > 1)", false),
            (".city + 1 == 1", false),
        ] {
            check(expr, &p, expected);
        }
    }

    #[test]
    fn missing_or_invalid_fields_never_match() {
        let p = person();
        for expr in [
            ".missing == 1",
            "not .missing",
            ".missing != 1",
            ".a == 1 or .missing == 1",
            ".none == 0",
            "not .none",
            ".obj",
            ".mixed",
        ] {
            check(expr, &p, false);
        }
        let reads = Filter::parse(".a == 1").unwrap();
        assert!(!reads.matches(None));
        assert!(!reads.matches(Some(&json!([1, 2]))));
        assert!(!reads.matches(Some(&json!("a"))));
        let constant = Filter::parse("1 + 1 == 2").unwrap();
        assert!(constant.matches(None));
        assert!(!Filter::parse("0").unwrap().matches(None));
    }

    #[test]
    fn booleans_are_one_and_zero() {
        let p = person();
        for (expr, expected) in [
            (".active", true),
            (".off", false),
            (".active == 1", true),
            (".off == 0", true),
            (".active + .active == 2", true),
            ("not .off", true),
            (".active in [1]", true),
        ] {
            check(expr, &p, expected);
        }
        assert!(matches!(
            Filter::parse(".active == true"),
            Err(FilterError::UnknownWord { at: 11, .. })
        ));
    }

    #[test]
    fn arithmetic_edge_cases_are_defined() {
        let p = person();
        for (expr, expected) in [
            (".age / 0 > 1000", true),
            ("-1 / 0 < 0", true),
            ("0 / 0", false),
            ("0 / 0 == 0 / 0", false),
            ("0 / 0 != 0 / 0", true),
            ("0 / 0 < 1 or 0 / 0 >= 1", false),
            ("5 % 0 == 5 % 0", false),
            ("10 ** 400 > 1e308", true),
            ("-(10 ** 400) < 0", true),
            ("1e308 * 10 - 1e308 * 10", false),
        ] {
            check(expr, &p, expected);
        }
    }

    #[test]
    fn errors_name_the_position() {
        use FilterError::*;
        let cases: [(&str, FilterError); 26] = [
            (
                ".age >",
                UnexpectedEnd {
                    at: 6,
                    expected: OPERAND,
                },
            ),
            (
                "(.a",
                UnexpectedEnd {
                    at: 3,
                    expected: "`)` or an operator",
                },
            ),
            (".a == \"x", UnterminatedString { at: 6 }),
            ("@", UnexpectedChar { at: 0, found: '@' }),
            (
                ".a in [1,",
                UnexpectedEnd {
                    at: 9,
                    expected: ELEMENT,
                },
            ),
            (
                ".a in [1",
                UnexpectedEnd {
                    at: 8,
                    expected: "`,` or `]`",
                },
            ),
            (
                ".a in [.b]",
                UnexpectedToken {
                    at: 7,
                    found: "`.b`".into(),
                    expected: ELEMENT,
                },
            ),
            (
                "",
                UnexpectedEnd {
                    at: 0,
                    expected: OPERAND,
                },
            ),
            (
                "   ",
                UnexpectedEnd {
                    at: 3,
                    expected: OPERAND,
                },
            ),
            (".a = 1", UnexpectedChar { at: 3, found: '=' }),
            (".a & .b", UnexpectedChar { at: 3, found: '&' }),
            (". a", UnexpectedChar { at: 0, found: '.' }),
            (
                ".a )",
                UnexpectedToken {
                    at: 3,
                    found: "`)`".into(),
                    expected: "an operator, or the end of the expression",
                },
            ),
            (
                "(.a]",
                UnexpectedToken {
                    at: 3,
                    found: "`]`".into(),
                    expected: "`)` or an operator",
                },
            ),
            (
                ".a > * 2",
                UnexpectedToken {
                    at: 5,
                    found: "`*`".into(),
                    expected: OPERAND,
                },
            ),
            (
                ".movie.year > 1",
                NestedField {
                    at: 0,
                    path: ".movie.year".into(),
                },
            ),
            (
                "x > 1",
                UnknownWord {
                    at: 0,
                    word: "x".into(),
                },
            ),
            (
                ".a AND .b",
                UnknownWord {
                    at: 3,
                    word: "AND".into(),
                },
            ),
            (
                "1.2.3",
                BadNumber {
                    at: 0,
                    text: "1.2.3".into(),
                },
            ),
            (
                "12abc",
                BadNumber {
                    at: 0,
                    text: "12abc".into(),
                },
            ),
            (
                "1e999",
                BadNumber {
                    at: 0,
                    text: "1e999".into(),
                },
            ),
            (
                "1. + 2",
                BadNumber {
                    at: 0,
                    text: "1.".into(),
                },
            ),
            ("'a\\qb'", BadEscape { at: 2, found: 'q' }),
            ("'a\\", UnterminatedString { at: 0 }),
            (
                "[1, - ]",
                UnexpectedToken {
                    at: 6,
                    found: "`]`".into(),
                    expected: "a number after `-`",
                },
            ),
            ("é", UnexpectedChar { at: 0, found: 'é' }),
        ];
        for (text, expected) in cases {
            assert_eq!(Filter::parse(text), Err(expected), "`{text}`");
        }
        // The first problem in text order wins, even if a later one is lexical.
        assert_eq!(
            Filter::parse(".a > > @"),
            Err(UnexpectedToken {
                at: 5,
                found: "`>`".into(),
                expected: OPERAND,
            })
        );
        let message = Filter::parse(".a == \"x").unwrap_err().to_string();
        assert!(message.contains("byte 6"), "{message}");
    }

    #[test]
    fn depth_is_limited() {
        let nested = |n: usize| format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert!(Filter::parse(&nested(Filter::MAX_DEPTH)).is_ok());
        assert_eq!(
            Filter::parse(&nested(Filter::MAX_DEPTH + 1)),
            Err(FilterError::TooDeep {
                at: Filter::MAX_DEPTH,
                max_depth: Filter::MAX_DEPTH,
            })
        );
        // A left-leaning chain of 63 operators is 64 levels deep; one more is too deep.
        let chain = |n: usize| format!(".a{}", " + 1".repeat(n));
        assert!(Filter::parse(&chain(Filter::MAX_DEPTH - 1)).is_ok());
        assert!(matches!(
            Filter::parse(&chain(Filter::MAX_DEPTH)),
            Err(FilterError::TooDeep { .. })
        ));
        let prefixes = |n: usize| format!("{}.a", "!".repeat(n));
        assert!(Filter::parse(&prefixes(Filter::MAX_DEPTH - 1)).is_ok());
        assert!(matches!(
            Filter::parse(&prefixes(Filter::MAX_DEPTH)),
            Err(FilterError::TooDeep { .. })
        ));
        let powers = |n: usize| format!("2{}", " ** 1".repeat(n));
        assert!(matches!(
            Filter::parse(&powers(Filter::MAX_DEPTH)),
            Err(FilterError::TooDeep { .. })
        ));
        // Far beyond the limits: an error, not a stack overflow.
        assert!(Filter::parse(&"(".repeat(4000)).is_err());
        assert!(Filter::parse(&"-".repeat(4000)).is_err());
    }

    #[test]
    fn length_is_limited() {
        let long = format!("\"{}\"", "a".repeat(Filter::MAX_TEXT_BYTES));
        assert_eq!(
            Filter::parse(&long),
            Err(FilterError::TooLong {
                len_bytes: Filter::MAX_TEXT_BYTES + 2,
                max_bytes: Filter::MAX_TEXT_BYTES,
            })
        );
        // A balanced tree of 600 leaves fits as typed (`||` without spaces), but
        // not once printed canonically (` or ` with spaces).
        fn balanced(leaves: usize) -> String {
            match leaves {
                0 | 1 => ".a".to_string(),
                _ => format!(
                    "({}||{})",
                    balanced(leaves / 2),
                    balanced(leaves - leaves / 2)
                ),
            }
        }
        let compact = balanced(600);
        assert!(compact.len() <= Filter::MAX_TEXT_BYTES, "{}", compact.len());
        assert!(matches!(
            Filter::parse(&compact),
            Err(FilterError::CanonicalTooLong { canonical_bytes, .. })
                if canonical_bytes > Filter::MAX_TEXT_BYTES
        ));
        assert!(Filter::parse(&balanced(400)).is_ok());
    }

    #[test]
    fn display_is_canonical() {
        for (text, canonical) in [
            (".a&&.b||!.c", "((.a and .b) or (not .c))"),
            ("not not 0", "(not (not 0))"),
            ("- 5", "(- 5)"),
            ("-5", "-5"),
            ("- -5", "(- -5)"),
            ("--.a", "(-(-.a))"),
            ("-.a ** 2", "((-.a) ** 2)"),
            (
                ".a + -.b * 2 > 1 && !.c",
                "(((.a + ((-.b) * 2)) > 1) and (not .c))",
            ),
            ("2**-1", "(2 ** -1)"),
            ("1e21 + 0.1 + 1e-7", "((1e21 + 0.1) + 1e-7)"),
            ("'say \"hi\"' in .s", "('say \"hi\"' in .s)"),
            ("\"a\\\\b\\n\"", "\"a\\\\b\\n\""),
            (".x in [ 1 , -2.5, 'q', ]", "(.x in [1, -2.5, \"q\"])"),
        ] {
            let filter = Filter::parse(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
            assert_eq!(filter.to_string(), canonical, "`{text}`");
            assert_eq!(Filter::parse(canonical), Ok(filter), "`{canonical}`");
        }
    }

    // ------------------------------------------------------- properties --

    fn config() -> Config {
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        match config.rng_seed {
            RngSeed::Random => Config {
                rng_seed: RngSeed::Fixed(0xF11_7E5),
                ..config
            },
            RngSeed::Fixed(_) => config,
        }
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-1000i32..1000).prop_map(f64::from),
            any::<f64>().prop_filter("literals are finite", |x| x.is_finite()),
            Just(-0.0),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[ab\"'\\\\\n\r\t ]{0,6}", "(?s).{0,6}"]
    }

    fn scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            number().prop_map(Scalar::Number),
            text().prop_map(Scalar::Text)
        ]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            prop_oneof!["[a-c]", "[A-Za-z0-9_]{1,6}"].prop_map(Expr::Field),
            number().prop_map(Expr::Number),
            text().prop_map(Expr::Text),
            prop::collection::vec(scalar(), 0..4).prop_map(Expr::Array),
        ];
        let unary = prop::sample::select(vec![Unary::Not, Unary::Neg]);
        let binary = prop::sample::select(vec![
            Binary::Or,
            Binary::And,
            Binary::Eq,
            Binary::Ne,
            Binary::Lt,
            Binary::Le,
            Binary::Gt,
            Binary::Ge,
            Binary::In,
            Binary::Add,
            Binary::Sub,
            Binary::Mul,
            Binary::Div,
            Binary::Rem,
            Binary::Pow,
        ]);
        leaf.prop_recursive(8, 64, 2, move |inner| {
            prop_oneof![
                (unary.clone(), inner.clone()).prop_map(|(op, e)| Expr::Unary(op, Box::new(e))),
                (binary.clone(), inner.clone(), inner).prop_map(|(op, l, r)| Expr::Binary(
                    op,
                    Box::new(l),
                    Box::new(r)
                )),
            ]
        })
    }

    /// Text that is often nearly valid: fragments of the language, glued.
    fn noise() -> impl Strategy<Value = String> {
        let fragment = prop::sample::select(vec![
            ".a", ".b", " ", "(", ")", "[", "]", ",", "1", "-", "2.5", "e", "'x'", "\"", "\\", "+",
            "*", "**", "/", "%", "==", "!=", "<", ">=", "!", "and", "or", "not", "in", "&&", "||",
            ".", "1e400", "é",
        ]);
        prop_oneof![
            prop::collection::vec(fragment, 0..32).prop_map(|parts| parts.concat()),
            any::<String>(),
            "[ -~]{0,48}",
        ]
    }

    fn attribute_sets() -> Vec<Json> {
        vec![
            json!({"a": 3, "b": "3", "c": [1, "x"]}),
            json!({"a": true, "b": null, "c": {"x": 1}, "x": "", "y": -0.0}),
            json!([1, 2]),
        ]
    }

    /// Where an error points, to check it lies within the text.
    fn position(error: &FilterError) -> usize {
        use FilterError::*;
        match error {
            TooLong { .. } | CanonicalTooLong { .. } => 0,
            TooDeep { at, .. }
            | UnexpectedChar { at, .. }
            | UnterminatedString { at }
            | BadEscape { at, .. }
            | BadNumber { at, .. }
            | NestedField { at, .. }
            | UnknownWord { at, .. }
            | UnexpectedToken { at, .. }
            | UnexpectedEnd { at, .. } => *at,
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn display_parses_back_to_an_equal_filter(expr in expr()) {
            let filter = Filter { expr };
            let text = filter.to_string();
            prop_assert_eq!(Filter::parse(&text), Ok(filter.clone()), "canonical text: {}", text);
            for attributes in attribute_sets() {
                let _ = filter.matches(Some(&attributes));
            }
            let _ = filter.matches(None);
        }

        #[test]
        fn parse_never_panics(text in noise()) {
            match Filter::parse(&text) {
                Ok(filter) => {
                    let canonical = filter.to_string();
                    prop_assert!(canonical.len() <= Filter::MAX_TEXT_BYTES);
                    prop_assert_eq!(Filter::parse(&canonical), Ok(filter.clone()));
                    for attributes in attribute_sets() {
                        let _ = filter.matches(Some(&attributes));
                    }
                }
                Err(error) => {
                    prop_assert!(position(&error) <= text.len(), "{:?} in {:?}", error, text);
                    prop_assert!(!error.to_string().is_empty());
                }
            }
        }
    }
}
