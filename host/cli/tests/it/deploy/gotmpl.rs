//! Renders the Helm chart in deploy/helm without helm: a small interpreter for the part of Go's
//! text/template language and of Helm's functions (Sprig) that the chart uses.
//!
//! It follows Helm where charts usually break: numbers from values files are float64 (so
//! `{{ 1048576 }}` prints `1.048576e+06` unless piped through `int`), `eq`/`gt` refuse to
//! compare an int with a float, a field of a missing value is a nil-pointer error, and
//! `required`/`fail` abort the render with their message. Anything outside the subset (an
//! unknown function, a method call) is an error naming it, never silently ignored.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Number, Value};
use sha2::{Digest, Sha256};

pub type Result<T> = std::result::Result<T, String>;

// ---------------------------------------------------------------------------------------------
// Lexing: text and {{ actions }}.

#[derive(Debug)]
enum Item {
    Text(String),
    Action(String),
}

/// Splits a template into text and action bodies, applying `{{-` / `-}}` trimming and dropping
/// comments.
fn split(src: &str, name: &str) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        if trim_next {
            text = text.trim_start().to_owned();
        }
        let after = &rest[start + 2..];
        let trim_left = after.starts_with("- ") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end().to_owned();
        }
        items.push(Item::Text(text));
        let body_start = if trim_left { 1 } else { 0 };
        let end = find_action_end(&after[body_start..])
            .ok_or_else(|| format!("{name}: unterminated action `{{{{{}`", short(after)))?;
        let mut body = &after[body_start..body_start + end];
        trim_next = body.ends_with(" -") || body.ends_with("\n-");
        if trim_next {
            body = &body[..body.len() - 1];
        }
        let body = body.trim();
        if !(body.starts_with("/*") && body.ends_with("*/")) {
            items.push(Item::Action(body.to_owned()));
        }
        rest = &after[body_start + end + 2..];
    }
    let mut text = rest.to_owned();
    if trim_next {
        text = text.trim_start().to_owned();
    }
    items.push(Item::Text(text));
    Ok(items)
}

/// The offset of the `}}` closing an action, skipping string literals and comments.
fn find_action_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    if s.trim_start().starts_with("/*") {
        return s.find("*/").and_then(|c| s[c..].find("}}").map(|e| c + e));
    }
    while i + 1 < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if bytes[i + 1] == b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `.a.b` (empty for `.`).
    Field(Vec<String>),
    /// `$x.a.b` (`$` alone is the root).
    Var(String, Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

fn tokenize(src: &str) -> Result<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let path = |chars: &[char], i: &mut usize| -> Vec<String> {
        let mut parts = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            *i += 1;
            let start = *i;
            while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
                *i += 1;
            }
            if *i > start {
                parts.push(chars[start..*i].iter().collect());
            }
        }
        parts
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            '.' => toks.push(Tok::Field(path(&chars, &mut i))),
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                toks.push(Tok::Var(name, path(&chars, &mut i)));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string in `{src}`")),
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some(&other) => s.push(other),
                                None => return Err(format!("bad escape in `{src}`")),
                            }
                        }
                        Some(&other) => s.push(other),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| format!("unterminated raw string in `{src}`"))?;
                toks.push(Tok::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if text.contains('.') {
                    toks.push(Tok::Float(
                        text.parse().map_err(|_| format!("bad number {text}"))?,
                    ));
                } else {
                    toks.push(Tok::Int(
                        text.parse().map_err(|_| format!("bad number {text}"))?,
                    ));
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected `{other}` in `{src}`")),
        }
    }
    Ok(toks)
}

// ---------------------------------------------------------------------------------------------
// Parsing.

#[derive(Clone, Debug)]
enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Func(String),
    Sub(Pipeline),
}

#[derive(Clone, Debug)]
struct Pipeline {
    decl: Vec<String>,
    /// `$x = …` (assignment to an existing variable) rather than `$x := …`.
    assign: bool,
    cmds: Vec<Vec<Arg>>,
    src: String,
}

#[derive(Clone, Debug)]
enum Node {
    Text(String),
    Output(Pipeline),
    If(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
    With(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    Template(String, Option<Pipeline>),
}

fn parse_pipeline(src: &str) -> Result<Pipeline> {
    let toks = tokenize(src)?;
    let mut pos = 0;
    let pipe = parse_pipe_toks(&toks, &mut pos, src)?;
    if pos != toks.len() {
        return Err(format!("unexpected {:?} in `{src}`", toks[pos]));
    }
    Ok(pipe)
}

fn parse_pipe_toks(toks: &[Tok], pos: &mut usize, src: &str) -> Result<Pipeline> {
    let mut decl = Vec::new();
    let mut assign = false;
    // `$a := …`, `$a = …`, `$i, $v := …`
    let mut look = *pos;
    let mut names = Vec::new();
    while let Some(Tok::Var(name, path)) = toks.get(look) {
        if !path.is_empty() {
            break;
        }
        names.push(name.clone());
        look += 1;
        if toks.get(look) == Some(&Tok::Comma) {
            look += 1;
        } else {
            break;
        }
    }
    if !names.is_empty() {
        match toks.get(look) {
            Some(Tok::Declare) => {
                decl = names;
                *pos = look + 1;
            }
            Some(Tok::Assign) => {
                decl = names;
                assign = true;
                *pos = look + 1;
            }
            _ => {}
        }
    }
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while let Some(tok) = toks.get(*pos) {
        match tok {
            Tok::RParen => break,
            Tok::Pipe => {
                if cmd.is_empty() {
                    return Err(format!("empty command in `{src}`"));
                }
                cmds.push(std::mem::take(&mut cmd));
                *pos += 1;
            }
            Tok::LParen => {
                *pos += 1;
                let sub = parse_pipe_toks(toks, pos, src)?;
                if toks.get(*pos) != Some(&Tok::RParen) {
                    return Err(format!("unclosed `(` in `{src}`"));
                }
                *pos += 1;
                cmd.push(Arg::Sub(sub));
            }
            Tok::Field(path) => {
                cmd.push(Arg::Field(path.clone()));
                *pos += 1;
            }
            Tok::Var(name, path) => {
                cmd.push(Arg::Var(name.clone(), path.clone()));
                *pos += 1;
            }
            Tok::Str(s) => {
                cmd.push(Arg::Lit(Value::String(s.clone())));
                *pos += 1;
            }
            Tok::Int(n) => {
                cmd.push(Arg::Lit(Value::Number(Number::from(*n))));
                *pos += 1;
            }
            Tok::Float(f) => {
                cmd.push(Arg::Lit(Value::Number(Number::from(*f))));
                *pos += 1;
            }
            Tok::Ident(id) => {
                cmd.push(match id.as_str() {
                    "true" => Arg::Lit(Value::Bool(true)),
                    "false" => Arg::Lit(Value::Bool(false)),
                    "nil" => Arg::Lit(Value::Null),
                    _ => Arg::Func(id.clone()),
                });
                *pos += 1;
            }
            other => return Err(format!("unexpected {other:?} in `{src}`")),
        }
    }
    if !cmd.is_empty() {
        cmds.push(cmd);
    }
    if cmds.is_empty() {
        return Err(format!("missing value in `{src}`"));
    }
    Ok(Pipeline {
        decl,
        assign,
        cmds,
        src: src.to_owned(),
    })
}

struct Parser<'a> {
    items: &'a [Item],
    pos: usize,
    name: &'a str,
    defines: &'a mut BTreeMap<String, Vec<Node>>,
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End,
    Else(String),
}

impl Parser<'_> {
    fn list(&mut self) -> Result<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.get(self.pos) {
            self.pos += 1;
            let body = match item {
                Item::Text(text) => {
                    if !text.is_empty() {
                        nodes.push(Node::Text(text.clone()));
                    }
                    continue;
                }
                Item::Action(body) => body.as_str(),
            };
            let (word, rest) = match body.split_once(char::is_whitespace) {
                Some((w, r)) => (w, r.trim()),
                None => (body, ""),
            };
            match word {
                "end" => return Ok((nodes, Stop::End)),
                "else" => return Ok((nodes, Stop::Else(rest.to_owned()))),
                "if" | "with" => {
                    let node = self.branches(word, rest)?;
                    nodes.push(node);
                }
                "range" => {
                    let pipe = parse_pipeline(rest).map_err(|e| self.err(&e))?;
                    let (body, stop) = self.list()?;
                    let otherwise = match stop {
                        Stop::End => Vec::new(),
                        Stop::Else(tail) if tail.is_empty() => self.expect_end()?,
                        _ => return Err(self.err(&format!("unclosed `range {rest}`"))),
                    };
                    nodes.push(Node::Range(pipe, body, otherwise));
                }
                "define" => {
                    let name = unquote(rest).ok_or_else(|| self.err("define needs a name"))?;
                    let body = self.expect_end()?;
                    self.defines.insert(name, body);
                }
                "template" => {
                    let Some((s, e)) = rest
                        .find('"')
                        .and_then(|s| rest[s + 1..].find('"').map(|e| (s, s + 1 + e)))
                    else {
                        return Err(self.err("template needs a quoted name"));
                    };
                    let (name, arg) = (rest[s + 1..e].to_owned(), rest[e + 1..].trim());
                    let arg = if arg.is_empty() {
                        None
                    } else {
                        Some(parse_pipeline(arg).map_err(|e| self.err(&e))?)
                    };
                    nodes.push(Node::Template(name, arg));
                }
                "block" | "break" | "continue" => {
                    return Err(self.err(&format!("`{word}` is not supported by the renderer")));
                }
                _ => nodes.push(Node::Output(
                    parse_pipeline(body).map_err(|e| self.err(&e))?,
                )),
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// `if`/`with` with their `else if`/`else with`/`else` chain.
    fn branches(&mut self, word: &str, first: &str) -> Result<Node> {
        let mut branches = Vec::new();
        let mut cond = first.to_owned();
        loop {
            let pipe = parse_pipeline(&cond).map_err(|e| self.err(&e))?;
            let (body, stop) = self.list()?;
            branches.push((pipe, body));
            match stop {
                Stop::End => break,
                Stop::Else(tail) if tail.is_empty() => {
                    let otherwise = self.expect_end()?;
                    return Ok(make(word, branches, otherwise));
                }
                Stop::Else(tail) => match tail.split_once(char::is_whitespace) {
                    Some((w, rest)) if w == word => cond = rest.trim().to_owned(),
                    _ => return Err(self.err(&format!("unexpected `else {tail}`"))),
                },
                Stop::Eof => return Err(self.err(&format!("unclosed `{word} {first}`"))),
            }
        }
        Ok(make(word, branches, Vec::new()))
    }

    fn expect_end(&mut self) -> Result<Vec<Node>> {
        match self.list()? {
            (nodes, Stop::End) => Ok(nodes),
            (_, Stop::Else(tail)) => Err(self.err(&format!("unexpected `else {tail}`"))),
            (_, Stop::Eof) => Err(self.err("missing `end`")),
        }
    }

    fn err(&self, msg: &str) -> String {
        format!("{}: {msg}", self.name)
    }
}

fn make(word: &str, branches: Vec<(Pipeline, Vec<Node>)>, otherwise: Vec<Node>) -> Node {
    if word == "if" {
        Node::If(branches, otherwise)
    } else {
        Node::With(branches, otherwise)
    }
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    s.strip_prefix('"')?.strip_suffix('"').map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// The template set and evaluation.

/// Parsed templates: every file by its path (`gatehouse/templates/x.yaml`) and every `define`.
pub struct Templates {
    named: BTreeMap<String, Vec<Node>>,
}

impl Templates {
    /// Parses `files` (`(path, source)`), failing on unbalanced or unsupported syntax.
    pub fn parse(files: &[(String, String)]) -> Result<Self> {
        let mut named = BTreeMap::new();
        let mut defines = BTreeMap::new();
        for (path, src) in files {
            let items = split(src, path)?;
            let mut parser = Parser {
                items: &items,
                pos: 0,
                name: path,
                defines: &mut defines,
            };
            match parser.list()? {
                (nodes, Stop::Eof) => {
                    named.insert(path.clone(), nodes);
                }
                (_, Stop::End) => return Err(format!("{path}: `end` without a block")),
                (_, Stop::Else(_)) => return Err(format!("{path}: `else` without a block")),
            }
        }
        for (name, body) in defines {
            if named.insert(name.clone(), body).is_some() {
                return Err(format!("template {name:?} is defined twice"));
            }
        }
        Ok(Self { named })
    }

    /// Renders the template `name` with `data` as dot.
    pub fn render(&self, name: &str, data: &Value) -> Result<String> {
        let nodes = self
            .named
            .get(name)
            .ok_or_else(|| format!("no template named {name:?}"))?;
        let mut out = String::new();
        let mut vars = vec![("$".to_owned(), data.clone())];
        self.exec(nodes, data, &mut vars, &mut out)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(out)
    }

    /// Whether a template (file or `define`) named `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    fn exec(
        &self,
        nodes: &[Node],
        dot: &Value,
        vars: &mut Vec<(String, Value)>,
        out: &mut String,
    ) -> Result<()> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Output(pipe) => {
                    let value = self.pipeline(pipe, dot, vars)?;
                    if pipe.decl.is_empty() {
                        out.push_str(&print(&value)?);
                    }
                }
                Node::If(branches, otherwise) => {
                    let mark = vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        if truth(&self.pipeline(cond, dot, vars)?) {
                            self.exec(body, dot, vars, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.exec(otherwise, dot, vars, out)?;
                    }
                    vars.truncate(mark);
                }
                Node::With(branches, otherwise) => {
                    let mark = vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        let value = self.pipeline(cond, dot, vars)?;
                        if truth(&value) {
                            self.exec(body, &value, vars, out)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.exec(otherwise, dot, vars, out)?;
                    }
                    vars.truncate(mark);
                }
                Node::Range(pipe, body, otherwise) => {
                    let mark = vars.len();
                    let mut plain = pipe.clone();
                    plain.decl.clear();
                    let value = self.pipeline(&plain, dot, vars)?;
                    let entries: Vec<(Value, Value)> = match &value {
                        Value::Sequence(list) => list
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (Value::Number(Number::from(i as i64)), v.clone()))
                            .collect(),
                        Value::Mapping(map) => {
                            let mut entries: Vec<_> =
                                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                            entries.sort_by_key(|(k, _)| print(k).unwrap_or_default());
                            entries
                        }
                        Value::Null => Vec::new(),
                        other => return Err(format!("cannot range over {}", kind(other))),
                    };
                    if entries.is_empty() {
                        self.exec(otherwise, dot, vars, out)?;
                    }
                    for (key, item) in entries {
                        let inner = vars.len();
                        match pipe.decl.as_slice() {
                            [] => {}
                            [v] => vars.push((v.clone(), item.clone())),
                            [k, v] => {
                                vars.push((k.clone(), key));
                                vars.push((v.clone(), item.clone()));
                            }
                            _ => return Err(format!("too many variables in `{}`", pipe.src)),
                        }
                        self.exec(body, &item, vars, out)?;
                        vars.truncate(inner);
                    }
                    vars.truncate(mark);
                }
                Node::Template(name, arg) => {
                    let data = match arg {
                        Some(pipe) => self.pipeline(pipe, dot, vars)?,
                        None => Value::Null,
                    };
                    out.push_str(&self.render(name, &data)?);
                }
            }
        }
        Ok(())
    }

    fn pipeline(
        &self,
        pipe: &Pipeline,
        dot: &Value,
        vars: &mut Vec<(String, Value)>,
    ) -> Result<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(cmd, value, dot, vars, &pipe.src)?);
        }
        let value = value.unwrap_or(Value::Null);
        if pipe.assign {
            for name in &pipe.decl {
                let slot = vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| format!("undefined variable {name} in `{}`", pipe.src))?;
                slot.1 = value.clone();
            }
        } else if let [name] = pipe.decl.as_slice() {
            vars.push((name.clone(), value.clone()));
        }
        Ok(value)
    }

    fn command(
        &self,
        cmd: &[Arg],
        piped: Option<Value>,
        dot: &Value,
        vars: &mut Vec<(String, Value)>,
        src: &str,
    ) -> Result<Value> {
        match &cmd[0] {
            Arg::Func(name) => {
                // `and`/`or` evaluate lazily, like Go.
                if name == "and" || name == "or" {
                    let mut last = Value::Null;
                    let n = cmd.len() - 1 + usize::from(piped.is_some());
                    if n < 1 {
                        return Err(format!("{name} needs arguments in `{src}`"));
                    }
                    for arg in &cmd[1..] {
                        last = self.arg(arg, dot, vars)?;
                        if truth(&last) != (name == "and") {
                            return Ok(last);
                        }
                    }
                    if let Some(p) = piped {
                        last = p;
                    }
                    return Ok(last);
                }
                let mut args = Vec::new();
                for arg in &cmd[1..] {
                    args.push(self.arg(arg, dot, vars)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                self.call(name, args)
                    .map_err(|e| format!("{e} (in `{src}`)"))
            }
            first => {
                if cmd.len() > 1 || piped.is_some() {
                    return Err(format!("cannot call a non-function in `{src}`"));
                }
                self.arg(first, dot, vars)
            }
        }
    }

    fn arg(&self, arg: &Arg, dot: &Value, vars: &mut Vec<(String, Value)>) -> Result<Value> {
        match arg {
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Field(path) => walk(dot, path, "."),
            Arg::Var(name, path) => {
                let value = vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable {name}"))?;
                walk(&value, path, name)
            }
            Arg::Sub(pipe) => self.pipeline(pipe, dot, vars),
            Arg::Func(name) => self.call(name, Vec::new()),
        }
    }

    fn call(&self, name: &str, args: Vec<Value>) -> Result<Value> {
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("{name} takes {n} argument(s), got {}", args.len()))
            }
        };
        Ok(match name {
            "include" => {
                arity(2)?;
                let target = strval(&args[0])?;
                Value::String(self.render(&target, &args[1])?)
            }
            "required" => {
                arity(2)?;
                match &args[1] {
                    Value::Null => return Err(strval(&args[0])?),
                    Value::String(s) if s.is_empty() => return Err(strval(&args[0])?),
                    other => other.clone(),
                }
            }
            "fail" => {
                arity(1)?;
                return Err(strval(&args[0])?);
            }
            "default" => {
                arity(2)?;
                if truth(&args[1]) {
                    args[1].clone()
                } else {
                    args[0].clone()
                }
            }
            "empty" => {
                arity(1)?;
                Value::Bool(!truth(&args[0]))
            }
            "not" => {
                arity(1)?;
                Value::Bool(!truth(&args[0]))
            }
            "eq" | "ne" => {
                if args.len() < 2 {
                    return Err(format!("{name} needs two arguments"));
                }
                let mut equal = false;
                for other in &args[1..] {
                    if compare_eq(&args[0], other)? {
                        equal = true;
                    }
                }
                Value::Bool(equal == (name == "eq"))
            }
            "lt" | "le" | "gt" | "ge" => {
                arity(2)?;
                let ord = compare_ord(&args[0], &args[1])?;
                Value::Bool(match name {
                    "lt" => ord.is_lt(),
                    "le" => ord.is_le(),
                    "gt" => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            "len" => {
                arity(1)?;
                let n = match &args[0] {
                    Value::String(s) => s.len(),
                    Value::Sequence(l) => l.len(),
                    Value::Mapping(m) => m.len(),
                    other => return Err(format!("len of {}", kind(other))),
                };
                Value::Number(Number::from(n as i64))
            }
            "quote" | "squote" => {
                let q = name == "quote";
                let parts: Result<Vec<String>> = args
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(|v| {
                        let s = strval(v)?;
                        Ok(if q { go_quote(&s) } else { format!("'{s}'") })
                    })
                    .collect();
                Value::String(parts?.join(" "))
            }
            "toYaml" => {
                arity(1)?;
                Value::String(to_yaml(&args[0])?)
            }
            "indent" | "nindent" => {
                arity(2)?;
                let n = usize::try_from(to_int(&args[0])?).map_err(|_| "negative indent")?;
                let pad = " ".repeat(n);
                let body = format!(
                    "{pad}{}",
                    strval(&args[1])?.replace('\n', &format!("\n{pad}"))
                );
                Value::String(if name == "nindent" {
                    format!("\n{body}")
                } else {
                    body
                })
            }
            "trunc" => {
                arity(2)?;
                let n = to_int(&args[0])?;
                let s = strval(&args[1])?;
                let len = s.chars().count() as i64;
                Value::String(if n >= 0 && len > n {
                    s.chars().take(n as usize).collect()
                } else if n < 0 && len > -n {
                    s.chars().skip((len + n) as usize).collect()
                } else {
                    s
                })
            }
            "trimSuffix" => {
                arity(2)?;
                let (suffix, s) = (strval(&args[0])?, strval(&args[1])?);
                Value::String(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_owned())
            }
            "trimPrefix" => {
                arity(2)?;
                let (prefix, s) = (strval(&args[0])?, strval(&args[1])?);
                Value::String(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_owned())
            }
            "trim" => {
                arity(1)?;
                Value::String(strval(&args[0])?.trim().to_owned())
            }
            "replace" => {
                arity(3)?;
                Value::String(strval(&args[2])?.replace(&strval(&args[0])?, &strval(&args[1])?))
            }
            "contains" => {
                arity(2)?;
                Value::Bool(strval(&args[1])?.contains(&strval(&args[0])?))
            }
            "hasPrefix" => {
                arity(2)?;
                Value::Bool(strval(&args[1])?.starts_with(&strval(&args[0])?))
            }
            "hasSuffix" => {
                arity(2)?;
                Value::Bool(strval(&args[1])?.ends_with(&strval(&args[0])?))
            }
            "lower" => {
                arity(1)?;
                Value::String(strval(&args[0])?.to_lowercase())
            }
            "upper" => {
                arity(1)?;
                Value::String(strval(&args[0])?.to_uppercase())
            }
            "int" | "int64" => {
                arity(1)?;
                Value::Number(Number::from(to_int(&args[0])?))
            }
            "toString" => {
                arity(1)?;
                Value::String(strval(&args[0])?)
            }
            "join" => {
                arity(2)?;
                let sep = strval(&args[0])?;
                let parts: Result<Vec<String>> = match &args[1] {
                    Value::Sequence(list) => {
                        list.iter().filter(|v| !v.is_null()).map(strval).collect()
                    }
                    other => Ok(vec![strval(other)?]),
                };
                Value::String(parts?.join(&sep))
            }
            "sha256sum" => {
                arity(1)?;
                let digest = Sha256::digest(strval(&args[0])?.as_bytes());
                Value::String(digest.iter().map(|b| format!("{b:02x}")).collect())
            }
            "print" => Value::String(go_print(&args)?),
            "printf" => {
                if args.is_empty() {
                    return Err("printf needs a format".into());
                }
                Value::String(go_printf(&strval(&args[0])?, &args[1..])?)
            }
            other => {
                return Err(format!(
                    "function `{other}` is not supported by the renderer"
                ));
            }
        })
    }
}

/// `.a.b` on `value`: a missing key is nil; a field of nil is an error (as in Helm).
fn walk(value: &Value, path: &[String], from: &str) -> Result<Value> {
    let mut current = value.clone();
    let mut seen = from.to_owned();
    for part in path {
        current = match &current {
            Value::Mapping(map) => map.get(part.as_str()).cloned().unwrap_or(Value::Null),
            Value::Null => {
                return Err(format!("nil pointer evaluating {seen}.{part}"));
            }
            other => {
                return Err(format!(
                    "cannot read field {part} of {} {seen}",
                    kind(other)
                ));
            }
        };
        seen = if seen == "." {
            format!(".{part}")
        } else {
            format!("{seen}.{part}")
        };
    }
    Ok(current)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "map",
        Value::Tagged(_) => "tagged value",
    }
}

/// Go template truthiness.
pub fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Sequence(l) => !l.is_empty(),
        Value::Mapping(m) => !m.is_empty(),
        Value::Tagged(_) => true,
    }
}

fn compare_eq(a: &Value, b: &Value) -> Result<bool> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() != y.is_f64() {
                return Err(format!(
                    "incompatible types for comparison ({} and {})",
                    kind(a),
                    kind(b)
                ));
            }
            Ok(x.as_f64() == y.as_f64())
        }
        (Value::String(x), Value::String(y)) => Ok(x == y),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        (Value::Null, Value::Null) => Ok(true),
        (Value::Null, _) | (_, Value::Null) => Ok(false),
        _ => Err(format!(
            "incompatible types for comparison ({} and {})",
            kind(a),
            kind(b)
        )),
    }
}

fn compare_ord(a: &Value, b: &Value) -> Result<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() == y.is_f64() => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .ok_or_else(|| "NaN in comparison".to_owned()),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => Err(format!(
            "incompatible types for comparison ({} and {})",
            kind(a),
            kind(b)
        )),
    }
}

/// Sprig's toInt (via cast): numbers truncate, numeric strings parse, anything else is 0.
fn to_int(v: &Value) -> Result<i64> {
    Ok(match v {
        Value::Number(n) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        _ => 0,
    })
}

/// How Go's fmt prints a value with %v (Helm turns `<no value>` into nothing).
fn print(v: &Value) -> Result<String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => {
            Err(format!("prints a {} in Go syntax; use toYaml", kind(v)))
        }
        other => strval(other),
    }
}

/// Sprig's strval.
fn strval(v: &Value) -> Result<String> {
    Ok(match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => i.to_string(),
            _ => go_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => s.clone(),
        other => return Err(format!("cannot use a {} as text", kind(other))),
    })
}

/// Go's `%v` for a float64: the shortest digits, in exponent form when the decimal exponent is
/// below -4 or at least 6 (strconv's 'g' with precision -1), so 1048576 prints 1.048576e+06.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's %q for a string.
fn go_quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// fmt.Sprint: a space between operands when neither is a string.
fn go_print(args: &[Value]) -> Result<String> {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !args[i - 1].is_string() && !arg.is_string() {
            out.push(' ');
        }
        out.push_str(&print(arg)?);
    }
    Ok(out)
}

fn go_printf(format: &str, args: &[Value]) -> Result<String> {
    let mut out = String::new();
    let mut next = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') | Some('v') | Some('d') => {
                let arg = next.next().ok_or("printf: missing argument")?;
                out.push_str(&print(arg)?);
            }
            Some('q') => {
                let arg = next.next().ok_or("printf: missing argument")?;
                out.push_str(&go_quote(&strval(arg)?));
            }
            other => {
                return Err(format!(
                    "printf verb %{} is not supported",
                    other.unwrap_or(' ')
                ));
            }
        }
    }
    if next.next().is_some() {
        return Err("printf: too many arguments".into());
    }
    Ok(out)
}

/// Helm's toYaml: integral float64s print as integers (the JSON round trip), keys sorted,
/// no trailing newline.
fn to_yaml(v: &Value) -> Result<String> {
    fn normalize(v: &Value) -> Value {
        match v {
            Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    Value::Number(Number::from(f as i64))
                } else {
                    v.clone()
                }
            }
            Value::Sequence(list) => Value::Sequence(list.iter().map(normalize).collect()),
            Value::Mapping(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by_key(|(k, _)| k.as_str().unwrap_or_default().to_owned());
                Value::Mapping(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), normalize(v)))
                        .collect(),
                )
            }
            other => other.clone(),
        }
    }
    let text = serde_yaml_ng::to_string(&normalize(v)).map_err(|e| e.to_string())?;
    Ok(text.trim_end_matches('\n').to_owned())
}

/// Numbers as Helm sees them after reading a values file: float64.
pub fn helm_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::Number(Number::from(n.as_f64().unwrap_or(0.0))),
        Value::Sequence(list) => Value::Sequence(list.iter().map(helm_numbers).collect()),
        Value::Mapping(map) => Value::Mapping(
            map.iter()
                .map(|(k, v)| (k.clone(), helm_numbers(v)))
                .collect::<Mapping>(),
        ),
        other => other.clone(),
    }
}

/// Helm's coalescing of user values over the chart's: maps merge, anything else replaces, and
/// an explicit null removes the key.
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            let mut merged = b.clone();
            for (k, v) in o {
                if v.is_null() {
                    merged.remove(k);
                } else if let Some(existing) = b.get(k) {
                    merged.insert(k.clone(), merge(existing, v));
                } else {
                    merged.insert(k.clone(), v.clone());
                }
            }
            Value::Mapping(merged)
        }
        (_, over) => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, data: &str) -> Result<String> {
        let templates = Templates::parse(&[("t".to_owned(), src.to_owned())])?;
        let data: Value = serde_yaml_ng::from_str(data).unwrap();
        templates.render("t", &helm_numbers(&data))
    }

    #[test]
    fn renders_the_subset_like_helm() {
        let data = "Values: {n: 1048576, r: 2, name: web, list: [a, b], m: {z: 1, a: 2}, on: true}";
        assert_eq!(render("{{ .Values.n }}", data).unwrap(), "1.048576e+06");
        assert_eq!(render("{{ .Values.n | int }}", data).unwrap(), "1048576");
        assert_eq!(render("{{ .Values.r }}", data).unwrap(), "2");
        assert_eq!(
            render("a\n  {{- .Values.name }}\n", data).unwrap(),
            "aweb\n"
        );
        assert_eq!(render("{{ .Values.name -}}\n  x", data).unwrap(), "webx");
        assert_eq!(
            render("{{ .Values.name | quote }}", data).unwrap(),
            "\"web\""
        );
        assert_eq!(
            render("{{ join \",\" .Values.list }}", data).unwrap(),
            "a,b"
        );
        assert_eq!(
            render(
                "{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}",
                data
            )
            .unwrap(),
            "a=2;z=1;"
        );
        assert_eq!(
            render(
                "{{ if gt (int .Values.r) 1 }}many{{ else }}one{{ end }}",
                data
            )
            .unwrap(),
            "many"
        );
        assert_eq!(
            render("{{ with .Values.missing }}x{{ else }}none{{ end }}", data).unwrap(),
            "none"
        );
        assert_eq!(
            render("{{ toYaml .Values.m | nindent 2 }}", data).unwrap(),
            "\n  a: 2\n  z: 1"
        );
        assert_eq!(
            render(
                "{{ define \"x\" }}[{{ . }}]{{ end }}{{ include \"x\" .Values.name }}",
                data
            )
            .unwrap(),
            "[web]"
        );
        assert_eq!(
            render("{{ printf \"%s-%s\" .Values.name \"x\" | trunc 4 }}", data).unwrap(),
            "web-"
        );
    }

    #[test]
    fn refuses_what_helm_refuses() {
        let data = "Values: {r: 2, s: ''}";
        let err = render("{{ if gt .Values.r 1 }}x{{ end }}", data).unwrap_err();
        assert!(err.contains("incompatible types"), "{err}");
        let err = render("{{ .Values.nope.deeper }}", data).unwrap_err();
        assert!(
            err.contains("nil pointer evaluating .Values.nope.deeper"),
            "{err}"
        );
        let err = render("{{ required \"s is required\" .Values.s }}", data).unwrap_err();
        assert!(err.contains("s is required"), "{err}");
        assert!(
            render("{{ if .Values.r }}x", data)
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            render("{{ end }}", data)
                .unwrap_err()
                .contains("without a block")
        );
        assert!(
            render("{{ nosuchfn 1 }}", data)
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            render("{{ .Values }}", data)
                .unwrap_err()
                .contains("toYaml")
        );
    }
}
