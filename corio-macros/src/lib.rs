//! `#[corio::main]` and `#[corio::test]`: run an `async fn` on a corio loop.
//!
//! Written on `proc_macro` alone (no `syn`), since the transformation is
//! small: drop `async`, wrap the body in `block_on(async move { ... })`.

use proc_macro::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs an `async fn main` on a new corio loop. Options: `debug`.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, false)
}

/// Runs an `async fn` test on a new corio loop. Options: `paused` (virtual
/// time), `debug`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, true)
}

fn expand(attr: TokenStream, item: TokenStream, is_test: bool) -> TokenStream {
    let macro_name = if is_test {
        "#[corio::test]"
    } else {
        "#[corio::main]"
    };
    let mut paused = false;
    let mut debug = false;
    for token in attr {
        match &token {
            TokenTree::Ident(i) if i.to_string() == "paused" && is_test => paused = true,
            TokenTree::Ident(i) if i.to_string() == "debug" => debug = true,
            TokenTree::Punct(p) if p.as_char() == ',' => {}
            other => {
                let options = if is_test {
                    "`paused`, `debug`"
                } else {
                    "`debug`"
                };
                return error(
                    other.span(),
                    &format!("{macro_name}: unknown option `{other}`; options are {options}"),
                );
            }
        }
    }

    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let Some(TokenTree::Group(body)) = tokens.last().cloned() else {
        return error(
            Span::call_site(),
            &format!("{macro_name} goes on an `async fn` with a body"),
        );
    };
    if body.delimiter() != Delimiter::Brace {
        return error(
            body.span(),
            &format!("{macro_name} goes on an `async fn` with a body"),
        );
    }
    tokens.pop();

    // Find `async` before `fn` and remove it.
    let fn_index = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"));
    let Some(fn_index) = fn_index else {
        return error(
            Span::call_site(),
            &format!("{macro_name} goes on an `async fn`"),
        );
    };
    let async_index = tokens[..fn_index]
        .iter()
        .rposition(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"));
    let Some(async_index) = async_index else {
        return error(
            tokens[fn_index].span(),
            &format!("{macro_name} goes on an `async fn`: add `async`"),
        );
    };
    tokens.remove(async_index);

    // `{ ::corio::__private::runtime_for_macro(paused, debug).block_on(async move BODY) }`
    let span = Span::call_site();
    let mut call: Vec<TokenTree> = Vec::new();
    call.extend(path(&["corio", "__private", "runtime_for_macro"], span));
    call.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        [
            TokenTree::Ident(Ident::new(if paused { "true" } else { "false" }, span)),
            TokenTree::Punct(Punct::new(',', Spacing::Alone)),
            TokenTree::Ident(Ident::new(if debug { "true" } else { "false" }, span)),
        ]
        .into_iter()
        .collect(),
    )));
    call.push(TokenTree::Punct(Punct::new('.', Spacing::Alone)));
    call.push(TokenTree::Ident(Ident::new("block_on", span)));
    call.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        [
            TokenTree::Ident(Ident::new("async", span)),
            TokenTree::Ident(Ident::new("move", span)),
            TokenTree::Group(body),
        ]
        .into_iter()
        .collect(),
    )));
    let new_body = TokenTree::Group(Group::new(Delimiter::Brace, call.into_iter().collect()));

    let mut out: Vec<TokenTree> = Vec::new();
    if is_test {
        // #[::core::prelude::v1::test]
        out.push(TokenTree::Punct(Punct::new('#', Spacing::Alone)));
        out.push(TokenTree::Group(Group::new(
            Delimiter::Bracket,
            path(&["core", "prelude", "v1", "test"], span)
                .into_iter()
                .collect(),
        )));
    }
    out.extend(tokens);
    out.push(new_body);
    out.into_iter().collect()
}

/// `::a::b::c`
fn path(segments: &[&str], span: Span) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for segment in segments {
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
        out.push(TokenTree::Ident(Ident::new(segment, span)));
    }
    out
}

/// `compile_error!("...")` at `span`.
fn error(span: Span, message: &str) -> TokenStream {
    let mut lit = proc_macro::Literal::string(message);
    lit.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenTree::Literal(lit).into(),
        )),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ]
    .into_iter()
    .collect()
}
