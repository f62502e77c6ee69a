//! Static validation and variable coercion, with graphql-ruby's messages.
//!
//! graphql-ruby validates the whole document before running any of it and,
//! if anything is wrong, answers only `{"errors": [...]}` (HTTP 200). A
//! client's error handling depends on those shapes (an `undefinedField`
//! from an older GitLab means "fall back to REST", a variable error means a
//! bug), so the wording and `extensions` follow graphql-ruby's
//! lib/graphql/static_validation/rules/*_error.rb and
//! lib/graphql/query/variable_validation_error.rb.

use super::schema::{Kind, Schema, TypeRef};
use graphql_parser::query::{
    Definition, FragmentDefinition, OperationDefinition, Selection, SelectionSet, TypeCondition,
    Value as Ast, VariableDefinition,
};
use graphql_parser::Pos;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

pub(crate) type Doc = graphql_parser::query::Document<'static, String>;
pub(crate) type Fragments<'d> = HashMap<&'d str, &'d FragmentDefinition<'static, String>>;

/// One GraphQL error object.
pub(crate) fn error(message: &str, pos: Option<Pos>, path: Option<&[Value]>, ext: Value) -> Value {
    let mut m = Map::new();
    m.insert("message".into(), json!(message));
    if let Some(p) = pos {
        m.insert(
            "locations".into(),
            json!([{"line": p.line, "column": p.column}]),
        );
    }
    if let Some(p) = path {
        m.insert("path".into(), Value::Array(p.to_vec()));
    }
    if !ext.is_null() {
        m.insert("extensions".into(), ext);
    }
    Value::Object(m)
}

/// The operation chosen to run.
pub(crate) struct Op<'d> {
    /// `query` or `mutation`.
    pub kind: &'static str,
    pub name: Option<&'d str>,
    pub vars: &'d [VariableDefinition<'static, String>],
    pub set: &'d SelectionSet<'static, String>,
}

impl Op<'_> {
    pub(crate) fn root_type(&self) -> &'static str {
        if self.kind == "mutation" {
            "Mutation"
        } else {
            "Query"
        }
    }

    /// How graphql-ruby names an operation in messages and paths.
    fn label(&self) -> String {
        match self.name {
            Some(n) => format!("{} {n}", self.kind),
            None => format!("anonymous {}", self.kind),
        }
    }

    fn path_root(&self) -> String {
        match self.name {
            Some(n) => format!("{} {n}", self.kind),
            None => self.kind.to_string(),
        }
    }
}

/// GraphQL::Query#selected_operation: the named one, else the only one.
pub(crate) fn select_operation<'d>(doc: &'d Doc, name: Option<&str>) -> Result<Op<'d>, String> {
    let mut ops = Vec::new();
    for d in &doc.definitions {
        if let Definition::Operation(o) = d {
            ops.push(match o {
                OperationDefinition::SelectionSet(s) => ("query", None, &[][..], s),
                OperationDefinition::Query(q) => (
                    "query",
                    q.name.as_deref(),
                    &q.variable_definitions[..],
                    &q.selection_set,
                ),
                OperationDefinition::Mutation(m) => (
                    "mutation",
                    m.name.as_deref(),
                    &m.variable_definitions[..],
                    &m.selection_set,
                ),
                OperationDefinition::Subscription(s) => (
                    "subscription",
                    s.name.as_deref(),
                    &s.variable_definitions[..],
                    &s.selection_set,
                ),
            });
        }
    }
    let chosen = match name {
        Some(n) => ops
            .into_iter()
            .find(|o| o.1 == Some(n))
            .ok_or_else(|| format!("No operation named \"{n}\""))?,
        None if ops.len() == 1 => ops.remove(0),
        None if ops.is_empty() => return Err("No query string was present".into()),
        None => return Err("An operation name is required".into()),
    };
    if chosen.0 == "subscription" {
        return Err("Schema is not configured for subscriptions".into());
    }
    Ok(Op {
        kind: chosen.0,
        name: chosen.1,
        vars: chosen.2,
        set: chosen.3,
    })
}

pub(crate) fn fragments(doc: &Doc) -> Fragments<'_> {
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name.as_str(), f)),
            _ => None,
        })
        .collect()
}

/// The condition of a fragment, if it names a type other than `parent`:
/// our types implement no interfaces, so only the parent itself matches.
pub(crate) fn condition<'t>(tc: Option<&'t TypeCondition<'static, String>>) -> Option<&'t str> {
    tc.map(|TypeCondition::On(t)| t.as_str())
}

pub(crate) fn print_ast(v: &Ast<'static, String>) -> String {
    match v {
        Ast::Variable(n) => format!("${n}"),
        Ast::Int(n) => n.as_i64().unwrap_or_default().to_string(),
        Ast::Float(f) => f.to_string(),
        Ast::String(s) => json!(s).to_string(),
        Ast::Boolean(b) => b.to_string(),
        Ast::Null => "null".into(),
        Ast::Enum(e) => e.clone(),
        Ast::List(l) => format!(
            "[{}]",
            l.iter().map(print_ast).collect::<Vec<_>>().join(", ")
        ),
        Ast::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{k}: {}", print_ast(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `Types::GlobalIDType[::ContainerRepository].coerce_input`
/// (app/graphql/types/global_id_type.rb): `Ok(Some(id))` for a numeric
/// ContainerRepository id, `Ok(None)` for a well-formed id that can match
/// no record, `Err` with GitLab's CoercionError message otherwise.
pub(crate) fn repository_gid(value: &str) -> Result<Option<u64>, String> {
    let inspect = json!(value).to_string();
    // URI::GID: gid://APP/MODEL/ID, all three present, nothing more.
    let parts = value
        .strip_prefix("gid://")
        .map(|r| r.split('/').collect::<Vec<_>>())
        .filter(|p| p.len() == 3 && p.iter().all(|s| !s.is_empty()));
    let Some(parts) = parts else {
        return Err(format!("{inspect} is not a valid Global ID"));
    };
    if parts[0] != "gitlab" {
        return Err(format!("{inspect} is not a Gitlab Global ID"));
    }
    if parts[1] != "ContainerRepository" {
        return Err(format!(
            "{inspect} does not represent an instance of ContainerRepository"
        ));
    }
    Ok(crate::state::is_integer(parts[2])
        .then(|| parts[2].parse().ok())
        .flatten())
}

/// A literal scalar as graphql-ruby's `coerce_input` sees it: `Err(None)`
/// for a value of the wrong kind, `Err(Some(msg))` for a CoercionError.
fn scalar_literal(ty: &str, v: &Ast<'static, String>) -> Result<(), Option<String>> {
    match (ty, v) {
        ("Int", Ast::Int(n)) if i32::try_from(n.as_i64().unwrap_or(i64::MAX)).is_ok() => Ok(()),
        ("Boolean", Ast::Boolean(_)) => Ok(()),
        ("String" | "Time" | "BigInt", Ast::String(_)) => Ok(()),
        ("ID", Ast::String(_) | Ast::Int(_)) => Ok(()),
        ("ContainerRepositoryID", Ast::String(s)) => repository_gid(s).map(|_| ()).map_err(Some),
        _ => Err(None),
    }
}

/// A JSON variable value as graphql-ruby coerces it.
fn scalar_json(ty: &str, v: &Value) -> Result<Value, String> {
    let fail = || format!("Could not coerce value {v} to {ty}");
    match (ty, v) {
        ("Int", Value::Number(n)) => n
            .as_i64()
            .filter(|i| i32::try_from(*i).is_ok())
            .map(|i| json!(i))
            .ok_or_else(fail),
        ("Boolean", Value::Bool(_)) => Ok(v.clone()),
        ("String" | "Time" | "BigInt", Value::String(_)) => Ok(v.clone()),
        ("ID", Value::String(_)) => Ok(v.clone()),
        ("ID", Value::Number(n)) if n.is_i64() => Ok(json!(n.to_string())),
        ("ContainerRepositoryID", Value::String(s)) => repository_gid(s).map(|_| v.clone()),
        _ => Err(fail()),
    }
}

struct Problems(Vec<(Vec<Value>, String)>);

fn coerce_json(
    schema: &Schema,
    v: &Value,
    ty: &TypeRef,
    path: &[Value],
    p: &mut Problems,
) -> Value {
    if v.is_null() {
        if ty.non_null() {
            p.0.push((path.to_vec(), "Expected value to not be null".into()));
        }
        return Value::Null;
    }
    match ty.nullable() {
        TypeRef::List(inner) => match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let mut ip = path.to_vec();
                        ip.push(json!(i));
                        coerce_json(schema, item, inner, &ip, p)
                    })
                    .collect(),
            ),
            single => Value::Array(vec![coerce_json(schema, single, inner, path, p)]),
        },
        TypeRef::Named(n) => {
            let Some(def) = schema.type_def(n) else {
                return Value::Null;
            };
            match def.kind {
                Kind::InputObject => {
                    let Value::Object(given) = v else {
                        p.0.push((
                            path.to_vec(),
                            format!("Expected {v} to be a key-value object."),
                        ));
                        return Value::Null;
                    };
                    let mut out = Map::new();
                    for k in given.keys() {
                        if !def.fields.iter().any(|f| f.name == k) {
                            let mut fp = path.to_vec();
                            fp.push(json!(k));
                            p.0.push((fp, format!("Field is not defined on {n}")));
                        }
                    }
                    for fd in &def.fields {
                        let mut fp = path.to_vec();
                        fp.push(json!(fd.name));
                        let val = given.get(fd.name).cloned().unwrap_or(Value::Null);
                        let c = coerce_json(schema, &val, &TypeRef::parse(fd.ty), &fp, p);
                        if given.contains_key(fd.name) {
                            out.insert(fd.name.to_string(), c);
                        }
                    }
                    Value::Object(out)
                }
                Kind::Enum => match v.as_str() {
                    Some(s) if def.enum_values.contains(&s) => v.clone(),
                    _ => {
                        p.0.push((
                            path.to_vec(),
                            format!("Expected {v} to be one of: {}", def.enum_values.join(", ")),
                        ));
                        Value::Null
                    }
                },
                Kind::Scalar => scalar_json(n, v).unwrap_or_else(|e| {
                    p.0.push((path.to_vec(), e));
                    Value::Null
                }),
                Kind::Object => Value::Null,
            }
        }
        TypeRef::NonNull(_) => unreachable!("nullable() strips NonNull"),
    }
}

/// Converts a literal default value to JSON (validated beforehand).
pub(crate) fn ast_to_json(v: &Ast<'static, String>, vars: &Map<String, Value>) -> Value {
    match v {
        Ast::Variable(n) => vars.get(n).cloned().unwrap_or(Value::Null),
        Ast::Int(n) => json!(n.as_i64()),
        Ast::Float(f) => json!(f),
        Ast::String(s) => json!(s),
        Ast::Boolean(b) => json!(b),
        Ast::Null => Value::Null,
        Ast::Enum(e) => json!(e),
        Ast::List(l) => Value::Array(l.iter().map(|i| ast_to_json(i, vars)).collect()),
        Ast::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), ast_to_json(v, vars)))
                .collect(),
        ),
    }
}

/// Coerces the request's `variables` for the operation's definitions
/// (GraphQL::Query::Variables): missing non-null variables and values of
/// the wrong shape are errors; a variable neither given nor defaulted is
/// left out, so its argument counts as absent.
pub(crate) fn coerce_variables(
    schema: &Schema,
    op: &Op,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<Value>> {
    let mut out = Map::new();
    let mut errors = Vec::new();
    for def in op.vars {
        let ty = TypeRef::from_ast(&def.var_type);
        let value = match (given.get(&def.name), &def.default_value) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => ast_to_json(d, &Map::new()),
            (None, None) if ty.non_null() => Value::Null,
            (None, None) => continue,
        };
        let mut problems = Problems(Vec::new());
        let coerced = coerce_json(schema, &value, &ty, &[], &mut problems);
        if problems.0.is_empty() {
            out.insert(def.name.clone(), coerced);
            continue;
        }
        let mut message = format!(
            "Variable ${} of type {ty} was provided invalid value",
            def.name
        );
        let fields: Vec<String> = problems
            .0
            .iter()
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, e)| {
                let dotted: Vec<String> = p
                    .iter()
                    .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                    .collect();
                format!("{} ({e})", dotted.join("."))
            })
            .collect();
        if !fields.is_empty() {
            message.push_str(&format!(" for {}", fields.join(", ")));
        }
        let problems: Vec<Value> = problems
            .0
            .into_iter()
            .map(|(p, e)| json!({"path": p, "explanation": e}))
            .collect();
        errors.push(error(
            &message,
            Some(def.position),
            None,
            json!({"value": value, "problems": problems}),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Checks a document's chosen operation against the schema.
pub(crate) struct Validator<'a> {
    schema: &'a Schema,
    fragments: &'a Fragments<'a>,
    vars: HashMap<&'a str, (TypeRef, bool)>,
    used: HashSet<String>,
    label: String,
    errors: Vec<Value>,
    spreading: Vec<&'a str>,
}

impl<'a> Validator<'a> {
    pub(crate) fn run(schema: &'a Schema, fragments: &'a Fragments<'a>, op: &Op<'a>) -> Vec<Value> {
        let mut v = Validator {
            schema,
            fragments,
            vars: HashMap::new(),
            used: HashSet::new(),
            label: op.label(),
            errors: Vec::new(),
            spreading: Vec::new(),
        };
        for def in op.vars {
            let ty = TypeRef::from_ast(&def.var_type);
            let input = matches!(
                schema.kind(ty.named()),
                Some(Kind::Scalar | Kind::Enum | Kind::InputObject)
            );
            if !input {
                v.errors.push(error(
                    &format!("{} isn't a defined input type (on ${})", ty.named(), def.name),
                    Some(def.position),
                    Some(&[json!(op.path_root())]),
                    json!({"code": "variableRequiresValidType", "typeName": ty.named(), "variableName": def.name}),
                ));
            }
            let has_default = def.default_value.as_ref().is_some_and(|d| *d != Ast::Null);
            v.vars.insert(def.name.as_str(), (ty, has_default));
        }
        v.selection_set(op.root_type(), op.set, &[json!(op.path_root())]);
        for def in op.vars {
            if !v.used.contains(&def.name) {
                v.errors.push(error(
                    &format!(
                        "Variable ${} is declared by {} but not used",
                        def.name, v.label
                    ),
                    Some(def.position),
                    Some(&[json!(op.path_root())]),
                    json!({"code": "variableNotUsed", "variableName": def.name}),
                ));
            }
        }
        v.errors
    }

    fn selection_set(
        &mut self,
        parent: &str,
        set: &'a SelectionSet<'static, String>,
        path: &[Value],
    ) {
        for item in &set.items {
            match item {
                Selection::Field(field) => {
                    let key = field.alias.as_deref().unwrap_or(&field.name);
                    let mut fpath = path.to_vec();
                    fpath.push(json!(key));
                    let Some(fd) = self.schema.field(parent, &field.name) else {
                        self.errors.push(error(
                            &format!("Field '{}' doesn't exist on type '{parent}'", field.name),
                            Some(field.position),
                            Some(&fpath),
                            json!({"code": "undefinedField", "typeName": parent, "fieldName": field.name}),
                        ));
                        continue;
                    };
                    self.arguments(fd.name, &fd.args, &field.arguments, field.position, &fpath);
                    let ty = TypeRef::parse(fd.ty);
                    let inner = ty.named().to_string();
                    let has_selections = !field.selection_set.items.is_empty();
                    match self.schema.kind(&inner) {
                        Some(Kind::Object) if has_selections => {
                            self.selection_set(&inner, &field.selection_set, &fpath)
                        }
                        Some(Kind::Object) => self.errors.push(error(
                            &format!(
                                "Field must have selections (field '{}' returns {ty} but has no selections. Did you mean '{} {{ ... }}'?)",
                                field.name, field.name
                            ),
                            Some(field.position),
                            Some(&fpath),
                            json!({"code": "selectionMismatch", "nodeName": format!("field '{}'", field.name), "typeName": ty.to_string()}),
                        )),
                        _ if has_selections => {
                            let names: Vec<String> = field
                                .selection_set
                                .items
                                .iter()
                                .filter_map(|s| match s {
                                    Selection::Field(f) => Some(f.name.clone()),
                                    _ => None,
                                })
                                .collect();
                            self.errors.push(error(
                                &format!(
                                    "Selections can't be made on scalars (field '{}' returns {inner} but has selections [{}])",
                                    field.name,
                                    names.join(", ")
                                ),
                                Some(field.position),
                                Some(&fpath),
                                json!({"code": "selectionMismatch", "nodeName": format!("field '{}'", field.name), "typeName": inner}),
                            ))
                        }
                        _ => {}
                    }
                }
                Selection::InlineFragment(frag) => {
                    if self.fragment_type_ok(
                        parent,
                        condition(frag.type_condition.as_ref()),
                        frag.position,
                        path,
                    ) {
                        self.selection_set(parent, &frag.selection_set, path);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.fragment_name.as_str();
                    let Some(def) = self.fragments.get(name).copied() else {
                        self.errors.push(error(
                            &format!("Fragment {name} was used, but not defined"),
                            Some(spread.position),
                            Some(path),
                            json!({"code": "useAndDefineFragment", "fragmentName": name}),
                        ));
                        continue;
                    };
                    if self.spreading.contains(&name) {
                        self.errors.push(error(
                            &format!("Fragment {name} contains an infinite loop"),
                            Some(spread.position),
                            Some(path),
                            json!({"code": "infiniteLoop", "fragmentName": name}),
                        ));
                        continue;
                    }
                    if self.fragment_type_ok(
                        parent,
                        condition(Some(&def.type_condition)),
                        spread.position,
                        path,
                    ) {
                        self.spreading.push(name);
                        self.selection_set(parent, &def.selection_set, path);
                        self.spreading.pop();
                    }
                }
            }
        }
    }

    fn fragment_type_ok(
        &mut self,
        parent: &str,
        cond: Option<&str>,
        pos: Pos,
        path: &[Value],
    ) -> bool {
        match cond {
            None => true,
            Some(c) if c == parent => true,
            Some(c) if self.schema.type_def(c).is_none() => {
                self.errors.push(error(
                    &format!("No such type {c}, so it can't be a fragment condition"),
                    Some(pos),
                    Some(path),
                    json!({"code": "undefinedType", "typeName": c}),
                ));
                false
            }
            Some(c) => {
                self.errors.push(error(
                    &format!("Fragment on {c} can't be spread inside {parent}"),
                    Some(pos),
                    Some(path),
                    json!({"code": "cannotSpreadFragment", "typeName": c, "parentName": parent}),
                ));
                false
            }
        }
    }

    fn arguments(
        &mut self,
        field: &str,
        defs: &[(&'static str, &'static str)],
        given: &'a [(String, Ast<'static, String>)],
        pos: Pos,
        path: &[Value],
    ) {
        for (name, value) in given {
            match defs.iter().find(|(n, _)| n == name) {
                None => self.errors.push(error(
                    &format!("Field '{field}' doesn't accept argument '{name}'"),
                    Some(pos),
                    Some(path),
                    json!({"code": "argumentNotAccepted", "name": field, "typeName": "Field", "argumentName": name}),
                )),
                Some((_, ty)) => {
                    self.value(value, &TypeRef::parse(ty), ("Field", field), name, pos, path);
                }
            }
        }
        let missing: Vec<&str> = defs
            .iter()
            .filter(|(n, t)| t.ends_with('!') && !given.iter().any(|(g, _)| g == n))
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            self.errors.push(error(
                &format!("Field '{field}' is missing required arguments: {}", missing.join(", ")),
                Some(pos),
                Some(path),
                json!({"code": "missingRequiredArguments", "className": "Field", "name": field, "arguments": missing.join(", ")}),
            ));
        }
    }

    /// Checks a literal (or a variable used) where a `ty` is expected.
    fn value(
        &mut self,
        v: &'a Ast<'static, String>,
        ty: &TypeRef,
        owner: (&str, &str),
        arg: &str,
        pos: Pos,
        path: &[Value],
    ) {
        let invalid = |me: &mut Self| {
            me.errors.push(error(
                &format!(
                    "Argument '{arg}' on {} '{}' has an invalid value ({}). Expected type '{ty}'.",
                    owner.0,
                    owner.1,
                    print_ast(v)
                ),
                Some(pos),
                Some(path),
                json!({"code": "argumentLiteralsIncompatible", "typeName": owner.0, "argumentName": arg}),
            ))
        };
        if let Ast::Variable(name) = v {
            self.variable(name, ty, arg, pos, path);
            return;
        }
        if *v == Ast::Null {
            if ty.non_null() {
                invalid(self);
            }
            return;
        }
        match ty.nullable() {
            TypeRef::List(inner) => match v {
                Ast::List(items) => {
                    for item in items {
                        self.value(item, inner, owner, arg, pos, path);
                    }
                }
                single => self.value(single, inner, owner, arg, pos, path),
            },
            TypeRef::Named(n) => {
                let Some(def) = self.schema.type_def(n) else {
                    return;
                };
                match (def.kind, v) {
                    (Kind::InputObject, Ast::Object(fields)) => {
                        for (k, fv) in fields {
                            match def.fields.iter().find(|f| f.name == k) {
                                None => self.errors.push(error(
                                    &format!("InputObject '{n}' doesn't accept argument '{k}'"),
                                    Some(pos),
                                    Some(path),
                                    json!({"code": "argumentNotAccepted", "name": n, "typeName": "InputObject", "argumentName": k}),
                                )),
                                Some(fd) => self.value(fv, &TypeRef::parse(fd.ty), ("InputObject", def.name), k, pos, path),
                            }
                        }
                        for fd in &def.fields {
                            if fd.ty.ends_with('!') && !fields.contains_key(fd.name) {
                                self.errors.push(error(
                                    &format!(
                                        "Argument '{}' on InputObject '{n}' is required. Expected type {}",
                                        fd.name, fd.ty
                                    ),
                                    Some(pos),
                                    Some(path),
                                    json!({"code": "missingRequiredInputObjectAttribute", "argumentName": fd.name, "argumentType": fd.ty, "inputObjectType": n}),
                                ));
                            }
                        }
                    }
                    (Kind::Enum, Ast::Enum(e)) if def.enum_values.contains(&e.as_str()) => {}
                    (Kind::Scalar, _) => match scalar_literal(n, v) {
                        Ok(()) => {}
                        Err(None) => invalid(self),
                        Err(Some(msg)) => self.errors.push(error(
                            &msg,
                            Some(pos),
                            Some(path),
                            json!({"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"}),
                        )),
                    },
                    _ => invalid(self),
                }
            }
            TypeRef::NonNull(_) => unreachable!("nullable() strips NonNull"),
        }
    }

    /// graphql-ruby's VariablesAreUsedAndDefined and
    /// VariableUsagesAreAllowed.
    fn variable(&mut self, name: &str, loc: &TypeRef, arg: &str, pos: Pos, path: &[Value]) {
        self.used.insert(name.to_string());
        let Some((var_ty, has_default)) = self.vars.get(name).cloned() else {
            self.errors.push(error(
                &format!(
                    "Variable ${name} is used by {} but not declared",
                    self.label
                ),
                Some(pos),
                Some(path),
                json!({"code": "variableNotDefined", "variableName": name}),
            ));
            return;
        };
        let effective = if has_default && !var_ty.non_null() && loc.non_null() {
            TypeRef::NonNull(Box::new(var_ty.clone()))
        } else {
            var_ty.clone()
        };
        if compatible(&effective, loc) {
            return;
        }
        let kind = if compatible(var_ty.nullable(), loc.nullable()) {
            "Nullability mismatch"
        } else {
            "Type mismatch"
        };
        self.errors.push(error(
            &format!("{kind} on variable ${name} and argument {arg} ({var_ty} / {loc})"),
            Some(pos),
            Some(path),
            json!({"code": "variableMismatch", "variableName": name, "typeName": var_ty.to_string(), "argumentName": arg, "errorMessage": kind}),
        ));
    }
}

/// Whether a variable of type `var` may be used where `loc` is expected.
fn compatible(var: &TypeRef, loc: &TypeRef) -> bool {
    match (var, loc) {
        (TypeRef::NonNull(v), TypeRef::NonNull(l)) => compatible(v, l),
        (TypeRef::NonNull(v), l) => compatible(v, l),
        (_, TypeRef::NonNull(_)) => false,
        (TypeRef::List(v), TypeRef::List(l)) => compatible(v, l),
        (TypeRef::Named(a), TypeRef::Named(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_as_gitlab_coerces_them() {
        assert_eq!(
            repository_gid("gid://gitlab/ContainerRepository/101"),
            Ok(Some(101))
        );
        assert_eq!(
            repository_gid("gid://gitlab/ContainerRepository/x"),
            Ok(None)
        );
        assert_eq!(
            repository_gid("101"),
            Err("\"101\" is not a valid Global ID".into())
        );
        assert_eq!(
            repository_gid("gid://gitlab/Project/1"),
            Err(
                "\"gid://gitlab/Project/1\" does not represent an instance of ContainerRepository"
                    .into()
            )
        );
        assert_eq!(
            repository_gid("gid://other/ContainerRepository/1"),
            Err("\"gid://other/ContainerRepository/1\" is not a Gitlab Global ID".into())
        );
    }

    #[test]
    fn variable_compatibility() {
        let t = TypeRef::parse;
        assert!(compatible(&t("Int!"), &t("Int")));
        assert!(!compatible(&t("Int"), &t("Int!")));
        assert!(compatible(&t("[String!]!"), &t("[String!]!")));
        assert!(!compatible(&t("String"), &t("Int")));
    }
}
