--[[ The OpenAPI 3 description of the REST API (CONTRACT §3), served at /v3/api-docs as
springdoc did for the original. A Lua table, encoded once; init.lua's validate() checks
that it describes exactly the routed /api paths. ]]

local json = require "chat.lib.json"

local M = {}

local int64 = { type = "integer", format = "int64" }
local int32 = { type = "integer", format = "int32" }
local str = { type = "string" }
local bool = { type = "boolean" }
local datetime = { type = "string", format = "date-time", example = "2025-01-09T14:30:00.123456" }

local function ref(name) return { ["$ref"] = "#/components/schemas/" .. name } end

local function param(name, where, schema, required, description)
  return { name = name, ["in"] = where, required = required, schema = schema, description = description }
end

local function path_id(name) return param(name, "path", int64, true) end
local function query_id(name) return param(name, "query", int64, true) end

local ERROR_CONTENT = { ["application/json"] = { schema = ref("ErrorResponse") } }

-- 200 (with a JSON schema, or an empty body) plus the listed error statuses.
local function responses(schema, ...)
  local out = {
    ["200"] = schema and { description = "OK", content = { ["application/json"] = { schema = schema } } }
      or { description = "OK (empty body)" },
    ["400"] = { description = "Bad Request: a missing, mistyped or invalid parameter", content = ERROR_CONTENT },
    ["503"] = { description = "Service Unavailable: PostgreSQL is unavailable", content = ERROR_CONTENT },
    ["401"] = { description = "Unauthorized: no identity or a bad token (CHAT_AUTH gateway or jwt)",
                content = ERROR_CONTENT },
  }
  local texts = { ["403"] = "Forbidden: not the caller's own id, not an active member of the room, or "
                    .. "the internal endpoint from outside", ["404"] = "Not Found", ["409"] = "Conflict",
                  ["415"] = "Unsupported Media Type" }
  for _, code in ipairs { ... } do out[code] = { description = texts[code], content = ERROR_CONTENT } end
  return out
end

local function json_body(name)
  return { required = true, content = { ["application/json"] = { schema = ref(name) } } }
end

local TAGS = { "chat-room-controller" }

local DOC = {
  openapi = "3.0.1",
  info = { title = "chat-service", version = "1.0",
           description = "Chat rooms, members, message history, read marks and unread counts. Real-time "
             .. "messaging is STOMP at /ws-chat (WebSocket or SockJS): /topic/chatroom/{id} (resumable with the "
             .. "SUBSCRIBE header last-message-id), /presence, /read and /typing sub-topics, /app/chat.* "
             .. "destinations; see docs/protocol.md." },
  servers = { { url = "/", description = "this server" } },
  paths = {
    ["/api/chat/rooms"] = { post = { tags = TAGS, operationId = "createChatRoom",
      summary = "Creates the chat room of a study",
      parameters = { query_id("studyId"),
                     param("roomName", "query", { type = "string", maxLength = 100 }, true) },
      responses = responses(ref("ChatRoomResponse"), "409") },
      get = { tags = TAGS, operationId = "getInbox",
      summary = "The member's active rooms, newest activity first, with unread counts and last messages "
        .. "(a chatd addition)",
      parameters = { query_id("memberId"),
        param("page", "query", { type = "integer", format = "int32", minimum = 0, default = 0 }, false,
              "Zero-based page index"),
        param("size", "query", { type = "integer", format = "int32", minimum = 1, maximum = 2000, default = 20 },
              false, "Page size; larger values are served with 2000") },
      responses = responses(ref("PageInboxRoomResponse"), "403") } },
    ["/api/chat/rooms/member"] = { post = { tags = TAGS, operationId = "addMember",
      summary = "Adds (or reactivates) a member of a study's chat room",
      requestBody = json_body("AddMemberRequest"),
      responses = responses(ref("ChatRoomResponse"), "403", "404", "415") } },
    ["/api/chat/rooms/study/{studyId}"] = { get = { tags = TAGS, operationId = "getChatRoomByStudyId",
      summary = "The chat room of a study",
      parameters = { path_id("studyId") }, responses = responses(ref("ChatRoomResponse"), "404") } },
    ["/api/chat/rooms/{chatRoomId}/join"] = { post = { tags = TAGS, operationId = "joinChatRoom",
      summary = "Joins a chat room (a former member is reactivated)",
      parameters = { path_id("chatRoomId"), query_id("memberId") },
      responses = responses(ref("ChatRoomResponse"), "403", "404") } },
    ["/api/chat/rooms/{chatRoomId}/leave"] = { post = { tags = TAGS, operationId = "leaveChatRoom",
      summary = "Leaves a chat room",
      parameters = { path_id("chatRoomId"), query_id("memberId") }, responses = responses(nil, "403", "404") } },
    ["/api/chat/rooms/{chatRoomId}/messages"] = { get = { tags = TAGS, operationId = "getChatMessages",
      summary = "A page of a chat room's messages",
      parameters = { path_id("chatRoomId"),
        param("page", "query", { type = "integer", format = "int32", minimum = 0, default = 0 }, false,
              "Zero-based page index"),
        param("size", "query", { type = "integer", format = "int32", minimum = 1, maximum = 2000, default = 50 },
              false, "Page size; larger values are served with 2000"),
        param("sort", "query", { type = "array", items = str, default = { "createdAt,desc" } }, false,
              "property(,asc|desc); properties id and createdAt; repeatable") },
      responses = responses(ref("PageChatMessageResponse"), "403", "404") } },
    ["/api/chat/rooms/{chatRoomId}/read"] = { post = { tags = TAGS, operationId = "markAsRead",
      summary = "Moves a member's read mark forward to a message of the room",
      parameters = { path_id("chatRoomId"), query_id("memberId"), query_id("lastMessageId") },
      responses = responses(nil, "403", "404") } },
    ["/api/chat/rooms/{chatRoomId}/unread"] = { get = { tags = TAGS, operationId = "getUnreadCount",
      summary = "How many chat messages by others an active member has not read",
      parameters = { path_id("chatRoomId"), query_id("memberId") },
      responses = responses(ref("UnreadCountResponse"), "403", "404") } },
    ["/api/chat/rooms/{chatRoomId}/read-marks"] = { get = { tags = TAGS, operationId = "getReadMarks",
      summary = "Every active member's read mark, by member id (a chatd addition; live updates on "
        .. "/topic/chatroom/{chatRoomId}/read)",
      parameters = { path_id("chatRoomId") },
      responses = responses({ type = "array", items = ref("ReadMarkResponse") }, "403", "404") } },
    ["/api/chat/internal/rooms/member"] = { post = { tags = TAGS, operationId = "addMemberInternal",
      summary = "Idempotent: finds or creates the study's room and adds (or reactivates) the member",
      requestBody = json_body("InternalAddMemberRequest"),
      security = { {}, { internalToken = {} } },
      responses = responses(ref("ChatRoomResponse"), "403", "415") } },
  },
  -- Which scheme applies is the server's CHAT_AUTH (docs/access-control.md); with none,
  -- no credentials are needed, hence the empty requirement.
  security = { {}, { bearerAuth = {} }, { gatewayUser = {} } },
  components = {
  securitySchemes = {
    bearerAuth = { type = "http", scheme = "bearer", bearerFormat = "JWT",
                   description = "CHAT_AUTH=jwt: HS256 or RS256, user id in CHAT_JWT_USER_CLAIM (sub)" },
    gatewayUser = { type = "apiKey", ["in"] = "header", name = "X-User-Id",
                    description = "CHAT_AUTH=gateway: set by the API gateway, believed from CHAT_TRUSTED_PROXIES" },
    internalToken = { type = "apiKey", ["in"] = "header", name = "X-Internal-Token",
                      description = "CHAT_INTERNAL_TOKEN, for callers outside CHAT_INTERNAL_NETWORKS" },
  },
  schemas = {
    ChatRoomResponse = { type = "object", properties = { id = int64, studyId = int64, name = str,
      isActive = bool, memberCount = int64, createdAt = datetime } },
    ChatMessageResponse = { type = "object", properties = { id = int64, chatRoomId = int64, senderId = int64,
      senderNickname = str, content = str, messageType = { type = "string", enum = { "CHAT", "JOIN", "LEAVE" } },
      createdAt = datetime } },
    SortObject = { type = "object", properties = { empty = bool, sorted = bool, unsorted = bool } },
    PageableObject = { type = "object", properties = { pageNumber = int32, pageSize = int32,
      sort = ref("SortObject"), offset = int64, paged = bool, unpaged = bool } },
    PageChatMessageResponse = { type = "object", properties = {
      content = { type = "array", items = ref("ChatMessageResponse") }, pageable = ref("PageableObject"),
      last = bool, totalElements = int64, totalPages = int32, size = int32, number = int32,
      sort = ref("SortObject"), first = bool, numberOfElements = int32, empty = bool } },
    InboxRoomResponse = { type = "object", properties = { id = int64, studyId = int64, name = str,
      isActive = bool, memberCount = int64, createdAt = datetime, unreadCount = int64,
      lastMessage = { allOf = { ref("ChatMessageResponse") }, nullable = true } } },
    PageInboxRoomResponse = { type = "object", properties = {
      content = { type = "array", items = ref("InboxRoomResponse") }, pageable = ref("PageableObject"),
      last = bool, totalElements = int64, totalPages = int32, size = int32, number = int32,
      sort = ref("SortObject"), first = bool, numberOfElements = int32, empty = bool } },
    ReadMarkResponse = { type = "object", properties = { memberId = int64,
      lastReadMessageId = { type = "integer", format = "int64", nullable = true } } },
    UnreadCountResponse = { type = "object", properties = { chatRoomId = int64, unreadCount = int64 } },
    AddMemberRequest = { type = "object", required = { "studyId", "roomId", "userId" },
      properties = { studyId = int64, roomId = int64, userId = int64,
                     nickname = { type = "string", maxLength = 255 } } },
    InternalAddMemberRequest = { type = "object", required = { "studyId", "roomName", "userId" },
      properties = { studyId = int64, roomName = { type = "string", maxLength = 100 }, userId = int64,
                     nickname = { type = "string", maxLength = 255 } } },
    ErrorResponse = { type = "object", properties = { timestamp = str, status = int32, error = str,
      message = str, path = str } },
  } },
}

M.DOC = DOC

local encoded
function M.document()
  encoded = encoded or json.encode(DOC)
  return encoded
end

return M
