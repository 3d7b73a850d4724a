//! The route table: the one owner of the API's routes. The router
//! (`router.rs`) matches requests against it and the OpenAPI document
//! (`openapi.rs`) is generated from it, so the two cannot drift apart.

/// The HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        match text {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PATCH" => Some(Method::Patch),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

/// What a handler does; `handler.rs` dispatches on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    List,
    Get,
    Update,
    Delete,
    Extend,
    GetItems,
    AppendItems,
    ClearItems,
    PopItem,
    CountItems,
    ListByOwner,
    Cleanup,
    Stats,
    Health,
    Ready,
    OpenApi,
}

/// A request body a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    None,
    /// A JSON document of this schema, required.
    Required(&'static str),
    /// A JSON document of this schema, or no body at all.
    Optional(&'static str),
    /// A JSON array of items, or an `ItemsAppend` document.
    Items,
}

/// A query parameter: its name, JSON Schema (as JSON text) and meaning.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub schema: &'static str,
    pub description: &'static str,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: Method,
    /// Literal segments and `{name}` parameters, one per segment.
    pub path: &'static str,
    pub op: Op,
    /// OpenAPI operationId.
    pub operation_id: &'static str,
    /// The repository function it calls ("" for none).
    pub repository: &'static str,
    pub summary: &'static str,
    pub query: &'static [Param],
    pub body: BodyKind,
    /// The success status and the schema of its body ("" for no body).
    pub success: u16,
    pub response: &'static str,
    /// Extra success statuses with the same body (201 of append when created).
    pub also: &'static [u16],
    /// Error statuses it can return (problem documents), besides 401.
    pub errors: &'static [u16],
    /// Whether it reads `If-Match`.
    pub if_match: bool,
    /// Whether its success response carries an `ETag`.
    pub etag: bool,
    /// Whether it needs the bearer token.
    pub auth: bool,
}

/// Statuses of any call that reaches storage: layout or data problems,
/// storage down or slow.
const STORAGE: [u16; 3] = [500, 503, 504];

const LIMIT_LIST: Param = Param {
    name: "limit",
    schema: r#"{"type":"integer","minimum":0,"maximum":1000,"default":50}"#,
    description: "Sessions per page.",
};
const OFFSET: Param = Param {
    name: "offset",
    schema: r#"{"type":"integer","minimum":0,"maximum":18446744073709551615,"default":0}"#,
    description: "Rank to start from (newest first); not with page_token.",
};
const PAGE_TOKEN: Param = Param {
    name: "page_token",
    schema: r#"{"type":"string"}"#,
    description: "A page's next_page_token: the page after it.",
};
const LIMIT_OWNER: Param = Param {
    name: "limit",
    schema: r#"{"type":"integer","minimum":1,"maximum":1000,"default":50}"#,
    description: "Sessions per page.",
};
const USER_ID: Param = Param {
    name: "user_id",
    schema: r#"{"type":"string"}"#,
    description: "Only this user's sessions; absent or empty: every user of the app.",
};
const ITEMS_QUERY: [Param; 7] = [
    Param {
        name: "last",
        schema: r#"{"type":"integer","minimum":0,"maximum":4294967295}"#,
        description: "The newest N items, oldest first; 0 reads none.",
    },
    Param {
        name: "start",
        schema: r#"{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}"#,
        description: "First position of a range (0 the oldest); not with last.",
    },
    Param {
        name: "stop",
        schema: r#"{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}"#,
        description: "Last position of a range, included.",
    },
    Param {
        name: "include_session",
        schema: r#"{"type":"boolean","default":false}"#,
        description: "Also return the session and its merged state.",
    },
    Param {
        name: "whole",
        schema: r#"{"type":"boolean","default":false}"#,
        description: "Every selected item in one page, read at one version.",
    },
    OWNER_APP,
    OWNER_USER,
];
/// The owner a call on one session requires (else not-found).
const OWNER_APP: Param = Param {
    name: "app_name",
    schema: r#"{"type":"string"}"#,
    description: "Only if the session has this owner (with user_id); else 404.",
};
const OWNER_USER: Param = Param {
    name: "user_id",
    schema: r#"{"type":"string"}"#,
    description: "Only if the session has this owner (with app_name); else 404.",
};

/// Every route of the API.
pub static ROUTES: &[Route] = &[
    Route {
        method: Method::Post,
        path: "/sessions",
        op: Op::Create,
        operation_id: "createSession",
        repository: "create",
        summary: "Create a session",
        query: &[],
        body: BodyKind::Required("SessionCreate"),
        success: 201,
        response: "Session",
        also: &[],
        errors: &[400, 409, 413, 415, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/sessions",
        op: Op::List,
        operation_id: "listSessions",
        repository: "list",
        summary: "List sessions, newest first",
        query: &[LIMIT_LIST, OFFSET, PAGE_TOKEN],
        body: BodyKind::None,
        success: 200,
        response: "SessionPage",
        also: &[],
        errors: &[400, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/sessions/{id}",
        op: Op::Get,
        operation_id: "getSession",
        repository: "get",
        summary: "Read a live session",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "Session",
        also: &[],
        errors: &[400, 404, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Patch,
        path: "/sessions/{id}",
        op: Op::Update,
        operation_id: "updateSession",
        repository: "update",
        summary: "Change a session's fields (If-Match: compare-and-set)",
        query: &[],
        body: BodyKind::Required("SessionUpdate"),
        success: 200,
        response: "Session",
        also: &[],
        errors: &[400, 404, 409, 412, 413, 415, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: true,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Delete,
        path: "/sessions/{id}",
        op: Op::Delete,
        operation_id: "deleteSession",
        repository: "delete",
        summary: "Delete a session (If-Match: only at that version; app_name and user_id: only with that owner)",
        query: &[OWNER_APP, OWNER_USER],
        body: BodyKind::None,
        success: 204,
        response: "",
        also: &[],
        errors: &[400, 404, 412, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: true,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Post,
        path: "/sessions/{id}/extend",
        op: Op::Extend,
        operation_id: "extendSession",
        repository: "extend-ttl",
        summary: "Reset a session's TTLs",
        query: &[],
        body: BodyKind::None,
        success: 204,
        response: "",
        also: &[],
        errors: &[400, 404, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/sessions/{id}/items",
        op: Op::GetItems,
        operation_id: "getItems",
        repository: "get-items",
        summary: "Read a session's items (the last N, or a range)",
        query: &ITEMS_QUERY,
        body: BodyKind::None,
        success: 200,
        response: "ItemsPage",
        also: &[],
        errors: &[400, 404, 409, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Post,
        path: "/sessions/{id}/items",
        op: Op::AppendItems,
        operation_id: "appendItems",
        repository: "append-items",
        summary: "Append items (If-Match: compare-and-set)",
        query: &[],
        body: BodyKind::Items,
        success: 200,
        response: "ItemsReceipt",
        also: &[201],
        errors: &[400, 404, 409, 412, 413, 415, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: true,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Delete,
        path: "/sessions/{id}/items",
        op: Op::ClearItems,
        operation_id: "clearItems",
        repository: "clear-items",
        summary: "Remove every item, keeping the session (If-Match: compare-and-set)",
        query: &[],
        body: BodyKind::Optional("ItemOptions"),
        success: 200,
        response: "ItemsReceipt",
        also: &[],
        errors: &[400, 404, 409, 412, 413, 415, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: true,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Post,
        path: "/sessions/{id}/items/pop",
        op: Op::PopItem,
        operation_id: "popItem",
        repository: "pop-item",
        summary: "Remove and return the newest item (If-Match: compare-and-set)",
        query: &[],
        body: BodyKind::Optional("ItemOptions"),
        success: 200,
        response: "ItemPopped",
        also: &[],
        errors: &[400, 404, 409, 412, 413, 415, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: true,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/sessions/{id}/items/count",
        op: Op::CountItems,
        operation_id: "countItems",
        repository: "get-items",
        summary: "Count a session's items",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "ItemsCount",
        also: &[],
        errors: &[400, 404, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: true,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/apps/{app}/sessions",
        op: Op::ListByOwner,
        operation_id: "listByOwner",
        repository: "list-by-owner",
        summary: "Sessions of an app's users, newest-updated first",
        query: &[USER_ID, LIMIT_OWNER, PAGE_TOKEN],
        body: BodyKind::None,
        success: 200,
        response: "OwnerPage",
        also: &[],
        errors: &[400, 422, STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Post,
        path: "/cleanup",
        op: Op::Cleanup,
        operation_id: "cleanupExpired",
        repository: "cleanup-expired",
        summary: "Remove every expired session's leftovers",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "CleanupReport",
        also: &[],
        errors: &[STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/stats",
        op: Op::Stats,
        operation_id: "getStats",
        repository: "stats",
        summary: "Count sessions and inconsistencies (walks the whole keyspace)",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "SessionStats",
        also: &[],
        errors: &[STORAGE[0], STORAGE[1], STORAGE[2]],
        if_match: false,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/healthz",
        op: Op::Health,
        operation_id: "health",
        repository: "",
        summary: "Liveness: the front answers (no storage access, no token)",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "Health",
        also: &[],
        errors: &[],
        if_match: false,
        etag: false,
        auth: false,
    },
    Route {
        method: Method::Get,
        path: "/readyz",
        op: Op::Ready,
        operation_id: "ready",
        repository: "check-layout",
        summary: "Readiness: storage answers and its key layout fits the settings",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "Ready",
        also: &[],
        errors: &[503],
        if_match: false,
        etag: false,
        auth: true,
    },
    Route {
        method: Method::Get,
        path: "/openapi.json",
        op: Op::OpenApi,
        operation_id: "openapi",
        repository: "",
        summary: "This API's OpenAPI 3.1 document",
        query: &[],
        body: BodyKind::None,
        success: 200,
        response: "",
        also: &[],
        errors: &[],
        if_match: false,
        etag: false,
        auth: true,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/http-api.md is the reference; it must list every route.
    #[test]
    fn the_reference_lists_every_route() {
        let reference = include_str!("../../../docs/http-api.md");
        for row in ROUTES {
            let entry = format!("`{} {}", row.method.as_str(), row.path);
            let listed = [format!("{entry}`"), format!("{entry}?")].iter().any(|e| reference.contains(e.as_str()));
            assert!(listed, "docs/http-api.md does not list {entry}`");
        }
    }

    #[test]
    fn every_route_needs_the_token_but_health() {
        for row in ROUTES {
            assert_eq!(row.auth, row.op != Op::Health, "{}", row.path);
        }
    }
}
