//! The SQL lexer: where the `?` placeholders of a statement are, read as the
//! server's lexer reads it, and what in the text the client cannot read as the
//! server does (executable comments, several statements, character sets that hide
//! ASCII bytes inside multi-byte characters).

/// What the lexer found in a statement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Byte offsets of the `?` placeholders.
    pub(crate) marks: Vec<usize>,
    /// An executable comment (`/*!…*/`, `/*M!…*/`): whether the server runs its
    /// content depends on its version and flavour.
    pub(crate) exec_comment: bool,
    /// More SQL follows a `;`: the text holds more than one statement.
    pub(crate) multi: bool,
}

/// Scan `sql` as the server's lexer would, for the session's modes.
///
/// A `?` counts as a placeholder unless it is inside a `'…'` string, a `"…"` string
/// (an identifier under `ANSI_QUOTES`), a `` `…` `` identifier, or a `-- `, `#` or
/// `/* */` comment. `backslash_escapes` is false under `NO_BACKSLASH_ESCAPES`: a
/// backslash is then an ordinary character in strings, and only a doubled quote
/// escapes a quote. Executable comments are scanned as code and reported.
///
/// An unterminated string or comment runs to the end (the server will reject the
/// statement; no placeholder is found inside it).
pub(crate) fn scan(sql: &str, backslash_escapes: bool, ansi_quotes: bool) -> Scan {
    let b = sql.as_bytes();
    let n = b.len();
    let mut out = Scan {
        marks: Vec::new(),
        exec_comment: false,
        multi: false,
    };
    let mut in_exec_comment = false;
    let mut after_semicolon = false;
    let mut i = 0;
    while i < n {
        let c = b[i];
        // Anything but white space, a `;` or a plain comment after a `;` is a
        // further statement.
        let comment_start = c == b'#'
            || (c == b'-' && is_dash_comment(b, i))
            || (c == b'/' && b.get(i + 1) == Some(&b'*') && !is_exec_comment(b, i));
        if after_semicolon && !c.is_ascii_whitespace() && c != b';' && !comment_start {
            out.multi = true;
        }
        match c {
            b'\'' => i = skip_quoted(b, i, b'\'', backslash_escapes),
            b'"' if ansi_quotes => i = skip_quoted(b, i, b'"', false),
            b'"' => i = skip_quoted(b, i, b'"', backslash_escapes),
            b'`' => i = skip_quoted(b, i, b'`', false),
            b'#' => i = skip_line(b, i),
            b'-' if is_dash_comment(b, i) => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if is_exec_comment(b, i) {
                    out.exec_comment = true;
                    in_exec_comment = true;
                    i += if b[i + 2] == b'!' { 3 } else { 4 };
                } else {
                    i = match find(&b[i + 2..], b"*/") {
                        Some(p) => i + 2 + p + 2,
                        None => n,
                    };
                }
            }
            b'*' if in_exec_comment && b.get(i + 1) == Some(&b'/') => {
                in_exec_comment = false;
                i += 2;
            }
            b';' => {
                after_semicolon = true;
                i += 1;
            }
            b'?' => {
                out.marks.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// `--` followed by white space, a control character or the end starts a comment.
fn is_dash_comment(b: &[u8], i: usize) -> bool {
    b.get(i + 1) == Some(&b'-')
        && b.get(i + 2)
            .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control())
}

/// `/*!` (MySQL) or `/*M!` (MariaDB) at `i`.
fn is_exec_comment(b: &[u8], i: usize) -> bool {
    b[i..].starts_with(b"/*!") || b[i..].starts_with(b"/*M!")
}

/// The first keyword of a statement: the byte range of the first word after
/// white space, comments (`-- `, `#`, `/* */`) and opening parentheses. The
/// content of an executable comment (`/*!50001 …*/`, `/*M!100000 …*/`) is code:
/// its version number is skipped and its first word counts. `None` when the text
/// holds no word (empty, only comments, or it starts with something else).
pub(crate) fn first_keyword(sql: &[u8]) -> Option<(usize, usize)> {
    let b = sql;
    let n = b.len();
    let mut i = 0;
    while i < n {
        match b[i] {
            c if c.is_ascii_whitespace() || c == b'(' => i += 1,
            b'#' => i = skip_line(b, i),
            b'-' if is_dash_comment(b, i) => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if is_exec_comment(b, i) {
                    i += if b[i + 2] == b'!' { 3 } else { 4 };
                    while i < n && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    i = match find(&b[i + 2..], b"*/") {
                        Some(p) => i + 2 + p + 2,
                        None => n,
                    };
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = b[i..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map_or(n, |p| i + p);
                return Some((i, end));
            }
            _ => return None,
        }
    }
    None
}

/// Byte offsets of the `?` placeholders in `sql` (see [`scan`]).
#[cfg(test)]
pub(crate) fn placeholders(sql: &str, backslash_escapes: bool) -> Vec<usize> {
    scan(sql, backslash_escapes, false).marks
}

/// Skip a quoted string or identifier starting at `start` (the opening quote);
/// returns the offset just past the closing quote.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && backslash_escapes {
            i += 2;
        } else if c == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2; // a doubled quote stands for one
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Skip to the end of the line (a `#` or `-- ` comment).
fn skip_line(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| start + p + 1)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Character sets in which the second byte of a multi-byte character can be an
/// ASCII byte such as `\` (0x5C): the server's lexer reads such a text differently
/// from a byte-wise one.
const ASCII_UNSAFE_CHARSETS: [&str; 5] = ["big5", "cp932", "gbk", "sjis", "gb18030"];

/// Whether `charset` can hide an ASCII byte inside a multi-byte character.
pub(crate) fn is_ascii_unsafe(charset: &str) -> bool {
    ASCII_UNSAFE_CHARSETS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset))
}

/// What a statement's text may change that the server's session-state tracking
/// (`session_track_state_change`) does not report (see
/// [`untracked_changes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Untracked {
    /// Some such state: a user-level lock (`GET_LOCK`), the characteristics of
    /// the next transaction (`SET TRANSACTION …`), the active role (`SET ROLE`),
    /// an open `HANDLER`, or the tracking itself (`session_track_…`, which the
    /// server stops reporting when it is switched off).
    pub(crate) any: bool,
    /// The active role among it, which `COM_RESET_CONNECTION` keeps: the pool
    /// sets it again after a reset.
    pub(crate) role: bool,
}

/// Find in one pass what `sql` may change that the server does not report.
/// Matches anywhere in the text, a string literal too: a false match costs one
/// reset of a pooled connection, never a leak.
pub(crate) fn untracked_changes(sql: &[u8]) -> Untracked {
    let at = |i: usize, word: &[u8]| {
        sql.len() - i >= word.len() && sql[i..i + word.len()].eq_ignore_ascii_case(word)
    };
    let (mut u, mut handler, mut open) = (Untracked::default(), false, false);
    for i in 0..sql.len() {
        match sql[i] | 0x20 {
            b'g' if at(i, b"get_lock") => u.any = true,
            b'h' if at(i, b"handler") => handler = true,
            b'o' if at(i, b"open") => open = true,
            b's' if at(i, b"session_track") => u.any = true,
            b's' if at(i, b"set") => {
                let mut j = i + 3;
                while j < sql.len() && sql[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j > i + 3 && at(j, b"role") {
                    u = Untracked {
                        any: true,
                        role: true,
                    };
                    break;
                }
                if j > i + 3 && at(j, b"transaction") {
                    u.any = true;
                }
            }
            _ => {}
        }
    }
    u.any |= handler && open;
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(sql: &str) -> Vec<usize> {
        placeholders(sql, true)
    }

    #[test]
    fn plain_placeholders() {
        assert_eq!(marks("SELECT ?, ?"), vec![7, 10]);
        assert_eq!(marks("SELECT 1"), Vec::<usize>::new());
        assert_eq!(marks("?"), vec![0]);
        assert_eq!(marks("a=?and b=?"), vec![2, 9]);
    }

    #[test]
    fn strings_hide_placeholders() {
        assert_eq!(marks("SELECT '?', ?"), vec![12]);
        assert_eq!(marks(r#"SELECT "?", ?"#), vec![12]);
        assert_eq!(marks("SELECT 'it''s ?', ?"), vec![18]);
        assert_eq!(marks(r#"SELECT "say ""?""", ?"#), vec![20]);
        // A backslash escapes the quote (default mode) ...
        assert_eq!(marks(r"SELECT 'a\'?', ?"), vec![15]);
        assert_eq!(marks(r"SELECT 'a\\', ?"), vec![14]);
        // ... but not under NO_BACKSLASH_ESCAPES, where 'a\' is a whole string.
        assert_eq!(placeholders(r"SELECT 'a\', ?", false), vec![13]);
        assert_eq!(placeholders(r"SELECT 'a\''?', ?", false), vec![16]);
        assert_eq!(placeholders(r"SELECT 'a\'?', ?", true), vec![15]);
        // Prefixed literals are strings too.
        assert_eq!(marks("SELECT _utf8mb4'?', N'?', X'3F', ?"), vec![33]);
        // Unterminated: nothing inside counts.
        assert_eq!(marks("SELECT ?, 'abc ?"), vec![7]);
    }

    #[test]
    fn identifiers_hide_placeholders() {
        assert_eq!(marks("SELECT `a?b` FROM t WHERE x = ?"), vec![30]);
        assert_eq!(marks("SELECT `a``?` , ?"), vec![16]);
        // Backslash is not an escape in identifiers.
        assert_eq!(marks(r"SELECT `a\`, ?"), vec![13]);
    }

    #[test]
    fn comments_hide_placeholders() {
        assert_eq!(marks("SELECT ? -- ?\n, ?"), vec![7, 16]);
        assert_eq!(marks("SELECT ? --\t?\n, ?"), vec![7, 16]);
        assert_eq!(
            marks("SELECT ? --?"),
            vec![7, 11],
            "`--` needs a space after it"
        );
        assert_eq!(marks("SELECT 1--?"), vec![10]);
        assert_eq!(marks("SELECT ? --"), vec![7]);
        assert_eq!(marks("SELECT ? # ?\n, ?"), vec![7, 15]);
        assert_eq!(marks("SELECT ? #?"), vec![7]);
        assert_eq!(marks("SELECT /* ? */ ?"), vec![15]);
        assert_eq!(marks("SELECT /* ' */ ?"), vec![15]);
        assert_eq!(marks("SELECT /*/ ? */ ?"), vec![16]);
        assert_eq!(marks("SELECT /* ? "), Vec::<usize>::new());
        assert_eq!(marks("SELECT '/*', ?, '*/'"), vec![13]);
        assert_eq!(marks("SELECT '#', ?"), vec![12]);
        assert_eq!(marks("SELECT '-- ', ?"), vec![14]);
        // Executable comments are code.
        assert_eq!(marks("SELECT /*! ? */ ?"), vec![11, 16]);
        assert_eq!(marks("SELECT /*M!100000 ? */ ?"), vec![18, 23]);
        assert_eq!(marks("SELECT /*!50001 '?' */ ?"), vec![23]);
    }

    #[test]
    fn scan_reports_statements_and_comments() {
        let s = scan("SELECT 1; SELECT 2", true, false);
        assert!(s.multi && !s.exec_comment);
        let s = scan("SELECT 1 /*!40101 x */", true, false);
        assert!(s.exec_comment && !s.multi);
        assert!(!scan("SELECT 1; -- x\n# y\n/* z */ ", true, false).multi);
        assert!(scan("SELECT 1; /*! x */", true, false).multi);
        // ANSI_QUOTES makes "…" a name, where a backslash is no escape.
        assert_eq!(scan(r#""a\"?""#, true, false).marks, Vec::<usize>::new());
        assert_eq!(scan(r#""a\"?""#, true, true).marks, vec![4]);
    }

    #[test]
    fn first_keyword_skips_comments() {
        fn kw(sql: &str) -> Option<&str> {
            first_keyword(sql.as_bytes()).map(|(a, b)| &sql[a..b])
        }
        assert_eq!(kw("SELECT 1"), Some("SELECT"));
        assert_eq!(kw("  select\n1"), Some("select"));
        assert_eq!(kw("-- note\n/* a */ # b\n INSERT INTO t"), Some("INSERT"));
        assert_eq!(kw("((SELECT 1) UNION (SELECT 2))"), Some("SELECT"));
        assert_eq!(kw("/*!40101 SET NAMES utf8 */"), Some("SET"));
        assert_eq!(kw("/*M!100000 SET x = 1 */"), Some("SET"));
        assert_eq!(kw("/* unterminated SELECT"), None);
        assert_eq!(kw("--not a comment"), None);
        assert_eq!(kw(""), None);
        assert_eq!(kw("?"), None);
        assert_eq!(kw("WITH_x"), Some("WITH_x"));
    }

    proptest::proptest! {
        /// Any bytes, hostile comment openers included: no panic, and the word
        /// found is inside the text and made of word characters.
        #[test]
        fn first_keyword_never_panics(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b"/*!".to_vec()),
                    proptest::strategy::Just(b"/*M!".to_vec()),
                    proptest::strategy::Just(b"/*".to_vec()),
                    proptest::strategy::Just(b"*/".to_vec()),
                    proptest::strategy::Just(b"-- ".to_vec()),
                    proptest::strategy::Just(b"#".to_vec()),
                    proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..4),
                ],
                0..12,
            )
        ) {
            let sql = parts.concat();
            if let Some((a, b)) = first_keyword(&sql) {
                proptest::prop_assert!(a < b && b <= sql.len());
                proptest::prop_assert!(sql[a..b]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_'));
            }
        }
    }

    #[test]
    fn untracked_changes_are_found_in_any_case() {
        let u = |sql: &str| untracked_changes(sql.as_bytes());
        let any = Untracked {
            any: true,
            role: false,
        };
        let role = Untracked {
            any: true,
            role: true,
        };
        assert_eq!(u("SELECT Get_Lock('x', 0)"), any);
        assert_eq!(u("set  transaction isolation level serializable"), any);
        assert_eq!(u("SET\nROLE admin"), role);
        assert_eq!(u("SET @x = 1; SET ROLE NONE"), role);
        assert_eq!(u("HANDLER t OPEN"), any);
        assert_eq!(u("SET SESSION session_track_state_change = OFF"), any);
        assert_eq!(u("SELECT 1"), Untracked::default());
        assert_eq!(u("SELECT handler FROM t"), Untracked::default());
        assert_eq!(u("SET @transaction = 1"), Untracked::default());
        assert_eq!(u("SETROLE"), Untracked::default());
    }
}
