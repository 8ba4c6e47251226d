--[[ The OpenAPI 3 description of the REST API, served at /v3/api-docs as springdoc did. ]]

local json = require "chat.json"

local M = {}

local function long_param(name, where, required)
  return { name = name, ["in"] = where, required = required ~= false,
           schema = { type = "integer", format = "int64" } }
end

local function ref(name) return { ["$ref"] = "#/components/schemas/" .. name } end

local function ok(schema)
  return { ["200"] = { description = "OK", content = schema and { ["application/json"] = { schema = schema } } or nil },
           ["400"] = { description = "Bad Request", content = { ["application/json"] = { schema = ref("Error") } } },
           ["404"] = { description = "Not Found", content = { ["application/json"] = { schema = ref("Error") } } } }
end

local function body(name)
  return { required = true, content = { ["application/json"] = { schema = ref(name) } } }
end

local int64 = { type = "integer", format = "int64" }
local str = { type = "string" }
local datetime = { type = "string", format = "date-time" }

local DOC = {
  openapi = "3.0.1",
  info = { title = "chat-service", version = "1.0" },
  paths = {
    ["/api/chat/rooms"] = { post = { operationId = "createChatRoom",
      parameters = { long_param("studyId", "query"), { name = "roomName", ["in"] = "query", required = true, schema = str } },
      responses = ok(ref("ChatRoomResponse")) } },
    ["/api/chat/rooms/member"] = { post = { operationId = "addMember", requestBody = body("AddMemberRequest"),
      responses = ok(ref("ChatRoomResponse")) } },
    ["/api/chat/rooms/study/{studyId}"] = { get = { operationId = "getChatRoomByStudyId",
      parameters = { long_param("studyId", "path") }, responses = ok(ref("ChatRoomResponse")) } },
    ["/api/chat/rooms/{chatRoomId}/join"] = { post = { operationId = "joinChatRoom",
      parameters = { long_param("chatRoomId", "path"), long_param("memberId", "query") },
      responses = ok(ref("ChatRoomResponse")) } },
    ["/api/chat/rooms/{chatRoomId}/leave"] = { post = { operationId = "leaveChatRoom",
      parameters = { long_param("chatRoomId", "path"), long_param("memberId", "query") }, responses = ok() } },
    ["/api/chat/rooms/{chatRoomId}/messages"] = { get = { operationId = "getChatMessages",
      parameters = { long_param("chatRoomId", "path"),
        { name = "page", ["in"] = "query", schema = { type = "integer", minimum = 0, default = 0 } },
        { name = "size", ["in"] = "query", schema = { type = "integer", minimum = 1, maximum = 2000, default = 50 } },
        { name = "sort", ["in"] = "query", schema = { type = "array", items = str, default = { "createdAt,desc" } } } },
      responses = ok(ref("PageChatMessageResponse")) } },
    ["/api/chat/rooms/{chatRoomId}/read"] = { post = { operationId = "markAsRead",
      parameters = { long_param("chatRoomId", "path"), long_param("memberId", "query"), long_param("lastMessageId", "query") },
      responses = ok() } },
    ["/api/chat/rooms/{chatRoomId}/unread"] = { get = { operationId = "getUnreadCount",
      parameters = { long_param("chatRoomId", "path"), long_param("memberId", "query") },
      responses = ok(ref("UnreadCountResponse")) } },
    ["/api/chat/internal/rooms/member"] = { post = { operationId = "addMemberInternal",
      requestBody = body("InternalAddMemberRequest"), responses = ok(ref("ChatRoomResponse")) } },
  },
  components = { schemas = {
    ChatRoomResponse = { type = "object", properties = { id = int64, studyId = int64, name = str,
      isActive = { type = "boolean" }, memberCount = { type = "integer" }, createdAt = datetime } },
    ChatMessageResponse = { type = "object", properties = { id = int64, chatRoomId = int64, senderId = int64,
      senderNickname = str, content = str, messageType = { type = "string", enum = { "CHAT", "JOIN", "LEAVE" } },
      createdAt = datetime } },
    PageChatMessageResponse = { type = "object", properties = {
      content = { type = "array", items = ref("ChatMessageResponse") },
      totalElements = int64, totalPages = { type = "integer" }, size = { type = "integer" },
      number = { type = "integer" }, numberOfElements = { type = "integer" },
      first = { type = "boolean" }, last = { type = "boolean" }, empty = { type = "boolean" } } },
    UnreadCountResponse = { type = "object", properties = { chatRoomId = int64, unreadCount = int64 } },
    AddMemberRequest = { type = "object", required = { "studyId", "roomId", "userId" },
      properties = { studyId = int64, roomId = int64, userId = int64, nickname = str } },
    InternalAddMemberRequest = { type = "object", required = { "studyId", "roomName", "userId" },
      properties = { studyId = int64, roomName = str, userId = int64, nickname = str } },
    Error = { type = "object", properties = { timestamp = str, status = { type = "integer" }, error = str,
      message = str, path = str } },
  } },
}

local encoded
function M.document()
  encoded = encoded or json.encode(DOC)
  return encoded
end

return M
