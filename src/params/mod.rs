//! Query parameters: `?` placeholders filled in on the client, safely.
//!
//! The rules are documented on [`Params`]. [`lexer`] finds the placeholders as the
//! server's lexer reads the statement; [`interpolate`] checks the statement and writes
//! the values into it.

pub(crate) mod interpolate;
pub(crate) mod lexer;

use crate::types::{ToValue, Value};

/// The arguments of a statement with `?` placeholders: `()`, a tuple of up to 12
/// [`ToValue`]s (`(1, "a")`, `(x,)`), a slice, array or `Vec` of one [`ToValue`]
/// type (`Vec<Value>` for mixed types).
///
/// `conn.exec("SELECT * FROM t WHERE a = ? AND b = ?", (1, "x"))` finds the `?`
/// placeholders with a lexer that reads the statement as the server will, turns
/// each argument into a [`Value`] through [`ToValue`], and writes it into the
/// statement as a self-contained SQL literal.
///
/// **The guarantee: no value can change the statement's structure**, in any
/// sql_mode and any connection character set. Two independent layers give it:
///
/// 1. *Values are written with characters that cannot open or close anything.*
///    Text goes as its UTF-8 bytes in hex with a character-set introducer,
///    `_utf8mb4 0x4F2742726965` (`_utf8mb4''` when empty): a character string that
///    the server converts to the column's or the connection's character set, so a
///    quote, backslash, `*/`, newline or a multi-byte character in the value is just
///    data, whatever `NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES` or the character set say.
///    Bytes go as `0x00FF` (`X''` when empty). Integers and exact decimals are
///    digits; floats are DOUBLE literals with an exponent (`1e-1`), the shortest
///    text that reads back to the very same float (NaN and infinity are refused);
///    dates and times are quoted digits, `'YYYY-MM-DD HH:MM:SS.ffffff'`; NULL is
///    `NULL`. A value never touches the token before or after it (a space is added
///    where it would).
/// 2. *The placeholders are where the server will see them, or the call is
///    refused.* A `?` inside a string, a quoted name or a comment is not a
///    placeholder. The lexer follows `NO_BACKSLASH_ESCAPES`, which the server reports
///    in every status packet. What the client cannot know is refused with
///    [`ErrorKind::Params`](crate::ErrorKind::Params) before anything is sent, when
///    parameters are given or the text contains a `?` anywhere:
///    - more than one statement (SQL after a `;`): an earlier statement could change
///      the sql_mode or character set for the rest;
///    - an executable comment, `/*! … */` or `/*M! … */`: whether the server runs it
///      depends on its version and flavour;
///    - a double-quoted part that ends at a different place with and without
///      `ANSI_QUOTES` (a backslash inside `"…"`), a mode no status packet reports;
///    - non-ASCII statement text on a connection whose character set can hide a
///      quote or backslash byte inside a multi-byte character (big5, cp932, gbk,
///      sjis, gb18030). Values are fine on any character set.
///
/// A wrong number of arguments is an [`ErrorKind::Params`](crate::ErrorKind::Params)
/// error too. A statement with no parameter and no `?` at all is sent untouched.
///
/// **Collation.** A text parameter carries utf8mb4's default collation, exactly
/// like `_utf8mb4'…'`. With the default `collation_connection` that is the same as a
/// plain `'…'` literal; if you change `collation_connection` to another utf8mb4
/// collation, comparing a parameter with a string literal of the statement needs an
/// explicit `COLLATE` (the server reports error 1267 otherwise). Comparisons with
/// columns are not affected.
///
/// **Why interpolation and not server-side prepared statements.** One round trip
/// instead of two or three (prepare, execute, close), no statement handles to leak
/// or cache, and it works with the non-blocking API and any pooler. The values
/// arrive as literals, so types follow SQL's literal rules (a string parameter
/// compared with an integer column converts as `'5'` would). Hex-encoded text is
/// twice its size on the wire: mind `max_allowed_packet` for very large values.
pub trait Params {
    /// The values, in placeholder order.
    fn into_values(self) -> Vec<Value>;
}

impl Params for () {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl<T: ToValue> Params for Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.into_iter().map(ToValue::into_value).collect()
    }
}

impl<T: ToValue> Params for &Vec<T> {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for &[T] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.into_iter().map(ToValue::into_value).collect()
    }
}

impl<T: ToValue, const N: usize> Params for &[T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

macro_rules! tuple_params {
    ($($t:ident $i:tt),+) => {
        impl<$($t: ToValue),+> Params for ($($t,)+) {
            fn into_values(self) -> Vec<Value> {
                vec![$(self.$i.into_value()),+]
            }
        }
    };
}

tuple_params!(A 0);
tuple_params!(A 0, B 1);
tuple_params!(A 0, B 1, C 2);
tuple_params!(A 0, B 1, C 2, D 3);
tuple_params!(A 0, B 1, C 2, D 3, E 4);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_params!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
