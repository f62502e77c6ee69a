//! The slice of GitLab's GraphQL schema registry-gc may touch, as data.
//!
//! Queries are validated against it before anything runs, as graphql-ruby
//! does, so a client asking for a field GitLab lacks (or that an older
//! GitLab lacks: `publishedAt`) fails here exactly as it would on GitLab.
//! Names and types follow GitLab's GraphQL reference
//! (doc/api/graphql/reference/_index.md) and the type classes under
//! app/graphql/types/container_registry/ and
//! app/graphql/mutations/container_repositories/destroy_tags.rb.

use graphql_parser::query::Type;

/// A type reference as written in a schema or a variable definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeRef {
    Named(String),
    List(Box<TypeRef>),
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// Parses schema notation such as `[String!]!`.
    pub(crate) fn parse(s: &str) -> TypeRef {
        if let Some(inner) = s.strip_suffix('!') {
            return TypeRef::NonNull(Box::new(TypeRef::parse(inner)));
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return TypeRef::List(Box::new(TypeRef::parse(inner)));
        }
        TypeRef::Named(s.to_string())
    }

    pub(crate) fn from_ast(t: &Type<'_, String>) -> TypeRef {
        match t {
            Type::NamedType(n) => TypeRef::Named(n.clone()),
            Type::ListType(i) => TypeRef::List(Box::new(TypeRef::from_ast(i))),
            Type::NonNullType(i) => TypeRef::NonNull(Box::new(TypeRef::from_ast(i))),
        }
    }

    /// The innermost named type.
    pub(crate) fn named(&self) -> &str {
        match self {
            TypeRef::Named(n) => n,
            TypeRef::List(i) | TypeRef::NonNull(i) => i.named(),
        }
    }

    pub(crate) fn non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }

    pub(crate) fn nullable(&self) -> &TypeRef {
        match self {
            TypeRef::NonNull(i) => i,
            t => t,
        }
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TypeRef::Named(n) => write!(f, "{n}"),
            TypeRef::List(i) => write!(f, "[{i}]"),
            TypeRef::NonNull(i) => write!(f, "{i}!"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Scalar,
    Enum,
    InputObject,
}

impl Kind {
    pub(crate) fn introspection_name(self) -> &'static str {
        match self {
            Kind::Object => "OBJECT",
            Kind::Scalar => "SCALAR",
            Kind::Enum => "ENUM",
            Kind::InputObject => "INPUT_OBJECT",
        }
    }
}

/// An output field, or an input field / argument when `args` is empty and
/// the owner is an input object.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub name: &'static str,
    pub ty: &'static str,
    pub args: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Clone)]
pub(crate) struct TypeDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Output fields (objects) or input fields (input objects).
    pub fields: Vec<FieldDef>,
    pub enum_values: Vec<&'static str>,
}

pub(crate) struct Schema {
    types: Vec<TypeDef>,
}

fn f(name: &'static str, ty: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty,
        args: Vec::new(),
    }
}

fn fa(name: &'static str, ty: &'static str, args: &[(&'static str, &'static str)]) -> FieldDef {
    FieldDef {
        name,
        ty,
        args: args.to_vec(),
    }
}

fn object(name: &'static str, fields: Vec<FieldDef>) -> TypeDef {
    TypeDef {
        name,
        kind: Kind::Object,
        fields,
        enum_values: Vec::new(),
    }
}

fn scalar(name: &'static str) -> TypeDef {
    TypeDef {
        name,
        kind: Kind::Scalar,
        fields: Vec::new(),
        enum_values: Vec::new(),
    }
}

/// `ContainerRepositoryTagSort` (app/graphql/types/container_registry/
/// container_repository_tags_sort_enum.rb; `PUBLISHED_AT_*` since 17.x).
pub(crate) const TAG_SORTS: [&str; 4] = [
    "NAME_ASC",
    "NAME_DESC",
    "PUBLISHED_AT_ASC",
    "PUBLISHED_AT_DESC",
];

impl Schema {
    /// `published_at`: whether `ContainerRepositoryTag.publishedAt` exists
    /// (it arrived with the metadata-database tag fields; older GitLab
    /// versions answer `undefinedField` for it).
    pub(crate) fn new(published_at: bool) -> Schema {
        let mut tag_fields = vec![
            f("name", "String!"),
            f("path", "String!"),
            f("location", "String!"),
            f("digest", "String"),
            f("mediaType", "String"),
            f("revision", "String"),
            f("shortRevision", "String"),
            f("totalSize", "BigInt"),
            f("createdAt", "Time"),
            f("referrers", "[ContainerRepositoryReferrer!]"),
            f("userPermissions", "ContainerRepositoryTagPermissions!"),
            // An experiment since 17.9 (app/graphql/types/container_registry/
            // protection/tag_rule_type.rb's access levels).
            f("protection", "ContainerRepositoryProtectionTagRule"),
        ];
        if published_at {
            tag_fields.push(f("publishedAt", "Time"));
        }
        let types = vec![
            object(
                "Query",
                vec![
                    fa(
                        "containerRepository",
                        "ContainerRepositoryDetails",
                        &[("id", "ContainerRepositoryID!")],
                    ),
                    fa("project", "Project", &[("fullPath", "ID!")]),
                ],
            ),
            object(
                "Project",
                vec![
                    f("id", "ID!"),
                    f("fullPath", "ID!"),
                    // app/graphql/types/project_type.rb (17.x+): every tag rule of the
                    // project, immutable ones included (empty with the flag off).
                    fa(
                        "containerProtectionTagRules",
                        "ContainerProtectionTagRuleConnection",
                        &[
                            ("after", "String"),
                            ("before", "String"),
                            ("first", "Int"),
                            ("last", "Int"),
                        ],
                    ),
                ],
            ),
            object(
                "ContainerProtectionTagRuleConnection",
                vec![
                    f("nodes", "[ContainerProtectionTagRule]"),
                    f("pageInfo", "PageInfo!"),
                ],
            ),
            object(
                "ContainerProtectionTagRule",
                vec![
                    f("id", "ContainerRegistryProtectionTagRuleID!"),
                    f("tagNamePattern", "String!"),
                    f(
                        "minimumAccessLevelForPush",
                        "ContainerProtectionTagRuleAccessLevel",
                    ),
                    f(
                        "minimumAccessLevelForDelete",
                        "ContainerProtectionTagRuleAccessLevel",
                    ),
                    f("immutable", "Boolean!"),
                ],
            ),
            object(
                "ContainerRepositoryProtectionTagRule",
                vec![
                    f(
                        "minimumAccessLevelForPush",
                        "ContainerProtectionTagRuleAccessLevel",
                    ),
                    f(
                        "minimumAccessLevelForDelete",
                        "ContainerProtectionTagRuleAccessLevel",
                    ),
                ],
            ),
            object(
                "ContainerRepositoryTagPermissions",
                vec![f("destroyContainerRepositoryTag", "Boolean!")],
            ),
            object(
                "ContainerRepositoryReferrer",
                vec![f("artifactType", "String"), f("digest", "String")],
            ),
            TypeDef {
                name: "ContainerProtectionTagRuleAccessLevel",
                kind: Kind::Enum,
                fields: Vec::new(),
                enum_values: vec!["MAINTAINER", "OWNER", "ADMIN"],
            },
            object(
                "Mutation",
                vec![fa(
                    "destroyContainerRepositoryTags",
                    "DestroyContainerRepositoryTagsPayload",
                    &[("input", "DestroyContainerRepositoryTagsInput!")],
                )],
            ),
            object(
                "ContainerRepositoryDetails",
                vec![
                    f("id", "ContainerRepositoryID!"),
                    f("name", "String!"),
                    f("path", "String!"),
                    f("location", "String!"),
                    f("createdAt", "Time!"),
                    f("tagsCount", "Int!"),
                    // The connection arguments plus the resolver's (app/graphql/
                    // resolvers/container_repository_tags_resolver.rb).
                    fa(
                        "tags",
                        "ContainerRepositoryTagConnection",
                        &[
                            ("after", "String"),
                            ("before", "String"),
                            ("first", "Int"),
                            ("last", "Int"),
                            ("sort", "ContainerRepositoryTagSort"),
                            ("name", "String"),
                            ("referrers", "Boolean"),
                            ("referrerType", "String"),
                        ],
                    ),
                ],
            ),
            object(
                "ContainerRepositoryTagConnection",
                vec![
                    f("nodes", "[ContainerRepositoryTag]"),
                    f("edges", "[ContainerRepositoryTagEdge]"),
                    f("pageInfo", "PageInfo!"),
                ],
            ),
            object(
                "ContainerRepositoryTagEdge",
                vec![f("cursor", "String!"), f("node", "ContainerRepositoryTag")],
            ),
            object("ContainerRepositoryTag", tag_fields),
            object(
                "PageInfo",
                vec![
                    f("hasNextPage", "Boolean!"),
                    f("hasPreviousPage", "Boolean!"),
                    f("startCursor", "String"),
                    f("endCursor", "String"),
                ],
            ),
            object(
                "DestroyContainerRepositoryTagsPayload",
                vec![
                    f("clientMutationId", "String"),
                    f("deletedTagNames", "[String!]!"),
                    f("errors", "[String!]!"),
                ],
            ),
            TypeDef {
                name: "DestroyContainerRepositoryTagsInput",
                kind: Kind::InputObject,
                fields: vec![
                    f("clientMutationId", "String"),
                    f("id", "ContainerRepositoryID!"),
                    f("tagNames", "[String!]!"),
                ],
                enum_values: Vec::new(),
            },
            TypeDef {
                name: "ContainerRepositoryTagSort",
                kind: Kind::Enum,
                fields: Vec::new(),
                enum_values: TAG_SORTS.to_vec(),
            },
            object(
                "__Type",
                vec![
                    f("name", "String"),
                    f("kind", "__TypeKind!"),
                    f("description", "String"),
                    fa("fields", "[__Field!]", &[("includeDeprecated", "Boolean")]),
                    f("inputFields", "[__InputValue!]"),
                    fa(
                        "enumValues",
                        "[__EnumValue!]",
                        &[("includeDeprecated", "Boolean")],
                    ),
                ],
            ),
            object(
                "__Field",
                vec![
                    f("name", "String!"),
                    f("description", "String"),
                    f("isDeprecated", "Boolean!"),
                ],
            ),
            object(
                "__InputValue",
                vec![f("name", "String!"), f("description", "String")],
            ),
            object(
                "__EnumValue",
                vec![f("name", "String!"), f("isDeprecated", "Boolean!")],
            ),
            TypeDef {
                name: "__TypeKind",
                kind: Kind::Enum,
                fields: Vec::new(),
                enum_values: vec![
                    "SCALAR",
                    "OBJECT",
                    "ENUM",
                    "INPUT_OBJECT",
                    "LIST",
                    "NON_NULL",
                ],
            },
            scalar("String"),
            scalar("Int"),
            scalar("Boolean"),
            scalar("ID"),
            // app/graphql/types/time_type.rb, ISO 8601.
            scalar("Time"),
            // GraphQL::Types::BigInt: serialized as a string.
            scalar("BigInt"),
            scalar("ContainerRepositoryID"),
            scalar("ContainerRegistryProtectionTagRuleID"),
        ];
        Schema { types }
    }

    pub(crate) fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    pub(crate) fn kind(&self, name: &str) -> Option<Kind> {
        self.type_def(name).map(|t| t.kind)
    }

    /// A field of an object type, including the meta fields every object
    /// (`__typename`) or the query root (`__type`) has.
    pub(crate) fn field(&self, type_name: &str, field: &str) -> Option<FieldDef> {
        match (type_name, field) {
            (_, "__typename") => Some(f("__typename", "String!")),
            ("Query", "__type") => Some(fa("__type", "__Type", &[("name", "String!")])),
            _ => self
                .type_def(type_name)
                .filter(|t| t.kind == Kind::Object)?
                .fields
                .iter()
                .find(|fd| fd.name == field)
                .cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_refs_round_trip() {
        for s in ["String", "[String!]!", "ContainerRepositoryID!", "[[Int]]"] {
            assert_eq!(TypeRef::parse(s).to_string(), s);
        }
        assert_eq!(TypeRef::parse("[String!]!").named(), "String");
        let s = Schema::new(false);
        assert!(s.field("ContainerRepositoryTag", "publishedAt").is_none());
        assert!(Schema::new(true)
            .field("ContainerRepositoryTag", "publishedAt")
            .is_some());
        assert!(s.field("Query", "__type").is_some());
    }
}
