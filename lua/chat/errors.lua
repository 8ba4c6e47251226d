--[[ The error texts clients see (the "message" of the error JSON), in one place so that
every module words the same fault the same way. string.format patterns. ]]

return {
  -- parameters and bodies (400)
  PARAM_MISSING = "required parameter '%s' is missing",
  PARAM_NOT_LONG = "parameter '%s' must be a 64-bit integer",
  PARAM_NOT_INT = "parameter '%s' must be a 32-bit integer",
  PARAM_TOO_SMALL = "parameter '%s' must be at least %d",
  PARAM_BLANK = "parameter '%s' must not be blank",
  PARAM_TOO_LONG = "parameter '%s' must be at most %d characters",
  PARAM_NOT_UTF8 = "parameter '%s' is not valid UTF-8",
  PATH_NOT_LONG = "path variable '%s' must be a 64-bit integer",
  QUERY_MALFORMED = "malformed query string",
  BODY_MISSING = "required request body is missing",
  BODY_MALFORMED = "malformed JSON request body: %s",
  BODY_NOT_OBJECT = "the request body must be a JSON object",
  FIELD_MISSING = "field '%s' is required",
  FIELD_NOT_LONG = "field '%s' must be a 64-bit integer",
  FIELD_NOT_STRING = "field '%s' must be a string",
  SORT_INVALID = "cannot sort by '%s': sort properties are id and createdAt, directions asc and desc",
  CONTENT_TYPE = "content type '%s' is not supported; send application/json",

  -- routing
  NO_HANDLER = "no handler for %s %s",
  METHOD_NOT_ALLOWED = "request method '%s' is not supported for %s",

  -- rooms, members, messages (404, 409)
  ROOM_NOT_FOUND = "chat room %d does not exist",
  STUDY_ROOM_NOT_FOUND = "study %d has no chat room",
  ROOM_NOT_IN_STUDY = "chat room %d does not belong to study %d",
  STUDY_HAS_ROOM = "study %d already has a chat room",
  NOT_A_MEMBER = "member %d is not an active member of chat room %d",
  MESSAGE_NOT_IN_ROOM = "message %d does not exist in chat room %d",

  -- server side
  DB_UNAVAILABLE = "database unavailable",
  INTERNAL = "internal server error",
}
