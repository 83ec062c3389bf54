//! `#[derive(FromRow)]` for [mysqlclient-async](https://docs.rs/mysqlclient-async):
//! a struct built from a result row, each field from the column of its name.
//!
//! Use it through the main crate, with its `derive` feature:
//! `use mysqlclient_async::FromRow;` brings in both the trait and this derive macro
//! (they live in different namespaces, as serde's do). The attributes are
//! documented on [`FromRow`](macro@FromRow).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, parse_quote, Attribute, Data, DeriveInput, Error, Field, Fields, Ident,
    LitStr, Path, Token, Type, WherePredicate,
};

/// Implements `mysqlclient_async::FromRow` for a struct: each field is read from
/// the column of the same name, converted with `FromValue` (so `Option<T>` takes
/// NULL as `None`). With the `derive` feature of mysqlclient-async,
/// `use mysqlclient_async::FromRow;` imports this macro along with the trait.
///
/// Columns the struct does not name are ignored; a column the struct needs and the
/// row lacks is an error that names the column and the field and lists the row's
/// columns. Names match exactly (as `Row::get("name")` does); when a row has two
/// columns of one name, the first one is read.
///
/// Both conversions are generated: `from_row_ref`, which the query methods call,
/// reads straight from the library's buffer without copying the row; `from_row`
/// reads an owned [`Row`]. Each field's column is looked up once per row. The
/// struct's own columns are read first, then its `flatten` fields (in `from_row`,
/// the last of those takes the owned row, any other gets a copy of it).
///
/// Errors are [`Error`]s of kind [`ErrorKind::Conversion`], which leave the
/// connection usable.
///
/// # Attributes
///
/// On the struct, `#[mysql(...)]` takes:
///
/// - `rename_all = "..."`: the column name of every field not renamed on its own,
///   from the field's name: `"snake_case"` (the name as it is), `"lowercase"`,
///   `"UPPERCASE"`, `"camelCase"`, `"PascalCase"` or `"SCREAMING_SNAKE_CASE"`;
/// - `crate = "path"`: where the generated code finds the crate, for a dependency
///   renamed in `Cargo.toml` (default `::mysqlclient_async`).
///
/// On a field, `#[mysql(...)]` takes:
///
/// - `rename = "column"`: read this column instead of the field's name;
/// - `default`: when the row has no such column, the field is
///   `Default::default()` (a NULL in a column that is there is still an error,
///   unless the field is an `Option`);
/// - `flatten`: the field's type implements `FromRow` itself (derived or not) and
///   is built from the same row, through its `from_row_ref`; with no other
///   attribute;
/// - `try_from = "Type"`: read the column as `Type`, then convert with
///   `TryFrom<Type>` (whose error must implement `Display`); a failed conversion
///   names the column and the field;
/// - `skip`: never read; the field is `Default::default()`; with no other
///   attribute.
///
/// An `Option<T>` field takes NULL as `None`, but its column must still be in the
/// row; add `default` to accept a row without it.
///
/// Tuple structs are read by position: field `0` from column 0 and so on, and the
/// row must have exactly as many columns as the struct has fields (as tuples do).
/// Their fields take only `try_from`.
///
/// Type parameters are allowed: each field whose type uses one gets the bound its
/// attributes need (`FromValue`, `FromRow` for `flatten`, `Default`, `TryFrom`).
/// Lifetime parameters are not: a row's values are converted into owned types
/// (borrow from a row with `RowRef::get` instead). Enums and unions are not
/// supported.
///
/// # Example
///
/// ```no_run
/// use mysqlclient_async::{Conn, FromRow};
///
/// #[derive(Debug, FromRow)]
/// #[mysql(rename_all = "camelCase")]
/// struct User {
///     id: u64,                     // column `id`
///     display_name: String,        // column `displayName`
///     #[mysql(rename = "mail")]
///     email: Option<String>,       // column `mail`; NULL is None
///     #[mysql(default)]
///     login_count: u32,            // column `loginCount`, 0 when the row has none
///     #[mysql(try_from = "i64")]
///     level: Level,                // column `level`, read as i64, then Level::try_from
///     #[mysql(flatten)]
///     audit: Audit,                // built from the same row
///     #[mysql(skip)]
///     cache: Vec<u8>,              // never read: empty
/// }
///
/// #[derive(Debug, FromRow)]
/// struct Audit {
///     #[mysql(rename = "createdBy")]
///     created_by: String,
/// }
///
/// #[derive(Debug)]
/// struct Level(u8);
///
/// impl TryFrom<i64> for Level {
///     type Error = String;
///     fn try_from(n: i64) -> Result<Level, String> {
///         u8::try_from(n).map(Level).map_err(|_| format!("no level {n}"))
///     }
/// }
///
/// /// By position: `SELECT id, name …`.
/// #[derive(Debug, FromRow)]
/// struct Pair(u64, String);
///
/// # fn demo(conn: &mut Conn) -> mysqlclient_async::Result<()> {
/// let users: Vec<User> = conn.query(
///     "SELECT id, display_name AS displayName, email AS mail, level, created_by AS createdBy \
///      FROM users",
/// )?;
/// let one: User = conn.exec_one("SELECT … FROM users WHERE id = ?", (42,))?;
/// let pairs: Vec<Pair> = conn.query("SELECT id, display_name FROM users")?;
/// # let _ = (users, one, pairs);
/// # Ok(())
/// # }
/// ```
///
/// [`Row`]: https://docs.rs/mysqlclient-async/latest/mysqlclient_async/struct.Row.html
/// [`Error`]: https://docs.rs/mysqlclient-async/latest/mysqlclient_async/struct.Error.html
/// [`ErrorKind::Conversion`]: https://docs.rs/mysqlclient-async/latest/mysqlclient_async/enum.ErrorKind.html#variant.Conversion
#[proc_macro_derive(FromRow, attributes(mysql))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// The struct's `#[mysql(...)]` attributes.
#[derive(Default)]
struct StructAttrs {
    krate: Option<Path>,
    rename_all: Option<RenameAll>,
}

/// A field's `#[mysql(...)]` attributes; each `Span` is where it was written.
#[derive(Default)]
struct FieldAttrs {
    rename: Option<LitStr>,
    default: Option<Span>,
    flatten: Option<Span>,
    try_from: Option<Type>,
    skip: Option<Span>,
}

#[derive(Clone, Copy)]
enum RenameAll {
    Snake,
    Lower,
    Upper,
    Camel,
    Pascal,
    ScreamingSnake,
}

const RENAME_ALL: &str = "\"snake_case\", \"lowercase\", \"UPPERCASE\", \"camelCase\", \
                          \"PascalCase\" or \"SCREAMING_SNAKE_CASE\"";

impl RenameAll {
    fn parse(s: &LitStr) -> Result<RenameAll, Error> {
        Ok(match s.value().as_str() {
            "snake_case" => RenameAll::Snake,
            "lowercase" => RenameAll::Lower,
            "UPPERCASE" => RenameAll::Upper,
            "camelCase" => RenameAll::Camel,
            "PascalCase" => RenameAll::Pascal,
            "SCREAMING_SNAKE_CASE" => RenameAll::ScreamingSnake,
            _ => {
                return Err(Error::new(
                    s.span(),
                    format!("unknown rename_all rule; expected {RENAME_ALL}"),
                ))
            }
        })
    }

    /// The column name of a field named `field` (a Rust name, normally snake_case).
    fn apply(self, field: &str) -> String {
        match self {
            RenameAll::Snake => field.to_owned(),
            RenameAll::Lower => field.to_lowercase(),
            RenameAll::Upper | RenameAll::ScreamingSnake => field.to_uppercase(),
            RenameAll::Pascal => pascal(field),
            RenameAll::Camel => {
                let p = pascal(field);
                let mut chars = p.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => p,
                }
            }
        }
    }
}

/// `user_id` → `UserId`.
fn pascal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    for word in field.split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// The string of `name = "..."`, with a message that shows the expected form.
fn string_value(meta: &ParseNestedMeta<'_>, name: &str) -> Result<LitStr, Error> {
    let usage = format!("expected a string: #[mysql({name} = \"...\")]");
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(usage));
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        return value.parse();
    }
    // Report at the value and consume it, so the message is ours alone.
    let wrong: TokenTree = value.parse()?;
    Err(Error::new(wrong.span(), usage))
}

fn duplicate(meta: &ParseNestedMeta<'_>, name: &str) -> Error {
    meta.error(format!("duplicate #[mysql({name})]"))
}

/// A flag without a value: `#[mysql(default)]`.
fn flag(meta: &ParseNestedMeta<'_>, name: &str, slot: &mut Option<Span>) -> Result<(), Error> {
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        return Err(meta.error(format!("#[mysql({name})] takes no value")));
    }
    if slot.is_some() {
        return Err(duplicate(meta, name));
    }
    *slot = Some(meta.path.span());
    Ok(())
}

fn mysql_attrs(
    attrs: &[Attribute],
    mut each: impl FnMut(&ParseNestedMeta<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("mysql")) {
        attr.parse_nested_meta(|meta| each(&meta))?;
    }
    Ok(())
}

fn struct_attrs(attrs: &[Attribute]) -> Result<StructAttrs, Error> {
    let mut out = StructAttrs::default();
    mysql_attrs(attrs, |meta| {
        if meta.path.is_ident("rename_all") {
            let s = string_value(meta, "rename_all")?;
            if out.rename_all.is_some() {
                return Err(duplicate(meta, "rename_all"));
            }
            out.rename_all = Some(RenameAll::parse(&s)?);
        } else if meta.path.is_ident("crate") {
            let s = string_value(meta, "crate")?;
            if out.krate.is_some() {
                return Err(duplicate(meta, "crate"));
            }
            out.krate = Some(s.parse()?);
        } else {
            return Err(meta.error(format!(
                "unknown #[mysql] attribute on a struct{}; expected `rename_all` or `crate`",
                named(&meta.path)
            )));
        }
        Ok(())
    })?;
    Ok(out)
}

fn field_attrs(field: &Field) -> Result<FieldAttrs, Error> {
    let mut out = FieldAttrs::default();
    mysql_attrs(&field.attrs, |meta| {
        if meta.path.is_ident("rename") {
            let s = string_value(meta, "rename")?;
            if out.rename.is_some() {
                return Err(duplicate(meta, "rename"));
            }
            out.rename = Some(s);
        } else if meta.path.is_ident("try_from") {
            let s = string_value(meta, "try_from")?;
            if out.try_from.is_some() {
                return Err(duplicate(meta, "try_from"));
            }
            out.try_from = Some(s.parse()?);
        } else if meta.path.is_ident("default") {
            flag(meta, "default", &mut out.default)?;
        } else if meta.path.is_ident("flatten") {
            flag(meta, "flatten", &mut out.flatten)?;
        } else if meta.path.is_ident("skip") {
            flag(meta, "skip", &mut out.skip)?;
        } else {
            return Err(meta.error(format!(
                "unknown #[mysql] attribute on a field{}; expected `rename`, `default`, \
                 `flatten`, `try_from` or `skip`",
                named(&meta.path)
            )));
        }
        Ok(())
    })?;
    // `flatten` and `skip` read no column of their own: nothing else applies.
    for (alone, span) in [("flatten", out.flatten), ("skip", out.skip)] {
        let Some(span) = span else { continue };
        let other = [
            ("rename", out.rename.is_some()),
            ("default", out.default.is_some()),
            ("flatten", out.flatten.is_some() && alone != "flatten"),
            ("try_from", out.try_from.is_some()),
            ("skip", out.skip.is_some() && alone != "skip"),
        ]
        .into_iter()
        .find(|(_, set)| *set);
        if let Some((other, _)) = other {
            return Err(Error::new(
                span,
                format!("#[mysql({alone})] cannot be combined with `{other}`"),
            ));
        }
    }
    Ok(out)
}

/// ` `name`` for a message about an attribute path.
fn named(path: &Path) -> String {
    match path.get_ident() {
        Some(ident) => format!(" `{ident}`"),
        None => String::new(),
    }
}

/// Whether `ty` mentions one of the struct's type parameters.
fn uses_params(ty: &Type, params: &[Ident]) -> bool {
    fn walk(tokens: TokenStream2, params: &[Ident]) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => params.contains(&i),
            TokenTree::Group(g) => walk(g.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(ty.to_token_stream(), params)
}

/// How a field gets its value.
enum Source {
    /// From a column: its name (named structs) or position (tuple structs).
    Column(ColumnRef),
    Flatten,
    Skip,
}

enum ColumnRef {
    Name(String),
    Index(usize),
}

struct Plan<'a> {
    field: &'a Field,
    /// How the field is named in messages: `email`, or `0` in a tuple struct.
    label: String,
    source: Source,
    attrs: FieldAttrs,
}

fn expand(input: &DeriveInput) -> Result<TokenStream2, Error> {
    let data = match &input.data {
        Data::Struct(s) => s,
        Data::Enum(e) => {
            return Err(Error::new(
                e.enum_token.span,
                "#[derive(FromRow)] supports structs only, not enums: a row is read into \
                 the fields of a struct",
            ))
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "#[derive(FromRow)] supports structs only, not unions",
            ))
        }
    };
    if let Some(lt) = input.generics.lifetimes().next() {
        return Err(Error::new_spanned(
            lt,
            "#[derive(FromRow)] does not support lifetime parameters: a row is converted \
             into owned values (borrow from a row with `RowRef::get` instead)",
        ));
    }
    let sattrs = struct_attrs(&input.attrs)?;
    let tuple = match &data.fields {
        Fields::Named(_) => false,
        Fields::Unnamed(_) => true,
        Fields::Unit => {
            return Err(Error::new_spanned(
                &input.ident,
                "#[derive(FromRow)] needs a struct with fields; a unit struct reads nothing",
            ))
        }
    };
    if tuple && sattrs.rename_all.is_some() {
        return Err(Error::new_spanned(
            &input.ident,
            "#[mysql(rename_all)] names columns, but a tuple struct reads them by position",
        ));
    }

    let mut plans = Vec::new();
    for (i, field) in data.fields.iter().enumerate() {
        let attrs = field_attrs(field)?;
        let label = match &field.ident {
            Some(ident) => unraw(ident),
            None => i.to_string(),
        };
        if tuple {
            let not_here = [
                ("rename", attrs.rename.as_ref().map(LitStr::span)),
                ("default", attrs.default),
                ("flatten", attrs.flatten),
                ("skip", attrs.skip),
            ];
            if let Some((name, Some(span))) = not_here.into_iter().find(|(_, s)| s.is_some()) {
                return Err(Error::new(
                    span,
                    format!(
                        "#[mysql({name})] applies to named fields; a tuple struct reads \
                         every column by position (its fields take only `try_from`)"
                    ),
                ));
            }
        }
        let source = if attrs.flatten.is_some() {
            Source::Flatten
        } else if attrs.skip.is_some() {
            Source::Skip
        } else if tuple {
            Source::Column(ColumnRef::Index(i))
        } else {
            let name = match (&attrs.rename, sattrs.rename_all) {
                (Some(r), _) => r.value(),
                (None, Some(rule)) => rule.apply(&label),
                (None, None) => label.clone(),
            };
            Source::Column(ColumnRef::Name(name))
        };
        plans.push(Plan {
            field,
            label,
            source,
            attrs,
        });
    }

    let krate: Path = sattrs
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::mysqlclient_async));
    let d = quote!(#krate::__derive);
    let target = unraw(&input.ident);
    let row = Ident::new("row", Span::mixed_site());
    let local = |i: usize| Ident::new(&format!("__field{i}"), Span::mixed_site());

    // Columns first, in field order; then the flattened fields, which take the row.
    let mut reads = TokenStream2::new();
    for (i, p) in plans.iter().enumerate() {
        let Source::Column(col) = &p.source else {
            continue;
        };
        let ty = &p.field.ty;
        let label = &p.label;
        let var = local(i);
        // The conversion call carries the field type's span throughout, so that an
        // unmet bound (`FromValue`, `TryFrom`) is reported at the field.
        let value = Ident::new("__value", ty.span());
        let call = match &p.attrs.try_from {
            Some(src) => quote!(#d::get_try_from::<#src, #ty>(#value, #target, #label)),
            None => quote!(#d::get::<#ty>(#value, #target, #label)),
        };
        let call = respan(call, ty.span());
        let at = match col {
            ColumnRef::Index(n) => quote!(#n),
            ColumnRef::Name(name) => quote!(#d::column(#row.columns(), #name, #target, #label)?),
        };
        let read = match col {
            ColumnRef::Name(name) if p.attrs.default.is_some() => {
                let default = quote_spanned!(ty.span()=> ::core::default::Default::default());
                quote! {
                    match #d::position(#row.columns(), #name) {
                        ::core::option::Option::Some(at) => {
                            let #value = #row.value(at);
                            #call?
                        }
                        ::core::option::Option::None => #default,
                    }
                }
            }
            _ => quote! {{
                let #value = #row.value(#at);
                #call?
            }},
        };
        reads.extend(quote!(let #var: #ty = #read;));
    }
    let arity = if tuple {
        let n = plans.len();
        quote!(#d::check_arity(#row.len(), #n, #target)?;)
    } else if plans.iter().all(|p| matches!(p.source, Source::Skip)) {
        // Nothing is read: the row is not used.
        quote!(let _ = &#row;)
    } else {
        TokenStream2::new()
    };

    let flattened: Vec<usize> = (0..plans.len())
        .filter(|&i| matches!(plans[i].source, Source::Flatten))
        .collect();
    let mut flat_ref = TokenStream2::new();
    let mut flat_owned = TokenStream2::new();
    for (k, &i) in flattened.iter().enumerate() {
        let ty = &plans[i].field.ty;
        let var = local(i);
        let from_ref = quote_spanned!(ty.span()=> <#ty as #krate::FromRow>::from_row_ref);
        let from_row = quote_spanned!(ty.span()=> <#ty as #krate::FromRow>::from_row);
        flat_ref.extend(quote!(let #var: #ty = #from_ref(#row)?;));
        // The last one takes the owned row; the others get a copy.
        if k + 1 == flattened.len() {
            flat_owned.extend(quote!(let #var: #ty = #from_row(#row)?;));
        } else {
            flat_owned.extend(quote!(
                let #var: #ty = #from_row(::core::clone::Clone::clone(&#row))?;
            ));
        }
    }

    let values: Vec<TokenStream2> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| match p.source {
            Source::Skip => quote_spanned!(p.field.ty.span()=> ::core::default::Default::default()),
            _ => local(i).into_token_stream(),
        })
        .collect();
    let construct = if tuple {
        quote!(Self(#(#values),*))
    } else {
        let names = plans.iter().map(|p| &p.field.ident);
        quote!(Self { #(#names: #values),* })
    };

    // Bounds for the fields whose types use the struct's type parameters.
    let params: Vec<Ident> = input
        .generics
        .type_params()
        .map(|t| t.ident.clone())
        .collect();
    let mut generics = input.generics.clone();
    let mut bounds: Vec<WherePredicate> = Vec::new();
    for p in &plans {
        let ty = &p.field.ty;
        let uses_src = p
            .attrs
            .try_from
            .as_ref()
            .is_some_and(|s| uses_params(s, &params));
        if !uses_params(ty, &params) && !uses_src {
            continue;
        }
        match (&p.source, &p.attrs.try_from) {
            (Source::Flatten, _) => bounds.push(parse_quote!(#ty: #krate::FromRow)),
            (Source::Skip, _) => bounds.push(parse_quote!(#ty: ::core::default::Default)),
            (Source::Column(_), Some(src)) => {
                bounds.push(parse_quote!(#src: #krate::FromValue));
                bounds.push(parse_quote!(#ty: ::core::convert::TryFrom<#src>));
                bounds.push(parse_quote!(
                    <#ty as ::core::convert::TryFrom<#src>>::Error: ::core::fmt::Display
                ));
            }
            (Source::Column(_), None) => bounds.push(parse_quote!(#ty: #krate::FromValue)),
        }
        if p.attrs.default.is_some() {
            bounds.push(parse_quote!(#ty: ::core::default::Default));
        }
    }
    if !bounds.is_empty() {
        generics.make_where_clause().predicates.extend(bounds);
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let name = &input.ident;

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::FromRow for #name #ty_generics #where_clause {
            fn from_row(#row: #krate::Row) -> #krate::Result<Self> {
                #arity
                #reads
                #flat_owned
                ::core::result::Result::Ok(#construct)
            }

            fn from_row_ref(#row: &#krate::RowRef<'_>) -> #krate::Result<Self> {
                #arity
                #reads
                #flat_ref
                ::core::result::Result::Ok(#construct)
            }
        }
    })
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream2, span: Span) -> TokenStream2 {
    tokens
        .into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut inner = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                inner.set_span(span);
                t = TokenTree::Group(inner);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

/// A field's or struct's name without `r#`.
fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    match s.strip_prefix("r#") {
        Some(rest) => rest.to_owned(),
        None => s,
    }
}
