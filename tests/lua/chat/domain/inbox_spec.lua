-- The inbox's domain function (chat/domain/inbox.lua): one statement, rows mapped in order.
describe("chat.domain.inbox", function()
  local fake, inbox, json

  local function row(over)
    local r = { total = 3, id = 1, study_id = 10, name = "알고리즘 스터디", is_active = true, member_count = 2,
                created_at = 1736400600.5, unread_count = 4, last_id = 9, last_sender_id = 6,
                last_sender_nickname = "홍길동", last_content = "안녕하세요!", last_message_type = "CHAT",
                last_created_at = 1736400700.123456 }
    for k, v in pairs(over or {}) do r[k] = v end
    if r.no_message then
      -- A room without messages: the last message's columns are NULL (nil).
      for _, k in ipairs { "last_id", "last_sender_id", "last_sender_nickname", "last_content",
                           "last_message_type", "last_created_at", "no_message" } do r[k] = nil end
    end
    return r
  end

  before_each(function()
    fake = require("fake_chat").install()
    inbox = require "chat.domain.inbox"
    json = require "chat.lib.json"
  end)

  it("is one statement: total, page, last message and unread count together", function()
    local sql = inbox.SQL
    assert.is_nil(sql:find(";", 1, true), "no second statement")
    assert.matches("count%(%*%) AS total FROM chat_room_members", sql)
    assert.matches("member_id = %$1 AND left_at IS NULL", sql)
    assert.matches("LEFT JOIN LATERAL", sql)
    assert.matches("ORDER BY c%.created_at DESC, c%.id DESC%s+LIMIT 1", sql, nil, "the history's newest message")
    assert.matches("ORDER BY activity DESC, r%.id DESC%s+LIMIT %$2 OFFSET %$3", sql)
    assert.matches("coalesce%(l%.created_at, r%.created_at%) AS activity", sql)
    -- read_marks' COUNT_UNREAD, condition for condition
    assert.matches("c%.id > coalesce%(p%.last_read_message_id, 0%)", sql)
    assert.matches("c%.message_type = 'CHAT'", sql)
    assert.matches("c%.sender_id <> p%.member_id", sql)
    -- active members only, as rooms.response's memberCount
    assert.matches("a%.chat_room_id = p%.id AND a%.left_at IS NULL", sql)
    assert.truthy(sql:find("extract(epoch FROM (p.created_at) AT TIME ZONE 'Asia/Seoul') AS created_at", 1, true))
    assert.truthy(sql:find("extract(epoch FROM (p.last_created_at) AT TIME ZONE 'Asia/Seoul') AS last_created_at",
      1, true))
  end)

  it("asks once, with member, limit and offset, and maps the rows in their order", function()
    fake.on_sql("AS total FROM chat_room_members", function() return {
      row { id = 3, name = "c" },
      row { id = 1, name = "a", no_message = true, unread_count = 0 },
    } end)
    local page = inbox.page(5, 1, 2)
    assert.equal(1, #fake.pg_calls)
    assert.same({ 5, 2, 2, n = 3 }, fake.pg_calls[1].params)
    local raw = page
    assert.equal("string", type(raw), "the page is JSON text")
    assert.truthy(raw:find('{"content":[{"id":3,"studyId":10,"name":"c","isActive":true,"memberCount":2,'
      .. '"createdAt":"2025-01-09T05:30:00.5","unreadCount":4,"lastMessage":{"id":9,"chatRoomId":3,'
      .. '"senderId":6,"senderNickname":"홍길동","content":"안녕하세요!","messageType":"CHAT",'
      .. '"createdAt":"2025-01-09T05:31:40.123456"}},{"id":1,"studyId":10,"name":"a","isActive":true,'
      .. '"memberCount":2,"createdAt":"2025-01-09T05:30:00.5","unreadCount":0,"lastMessage":null}],', 1, true), raw)
    assert.truthy(raw:find('"totalElements":3,"totalPages":2,"last":true,"size":2,"number":1,', 1, true), raw)
    assert.truthy(raw:find('"numberOfElements":2,"first":false,"empty":false}$'), raw)
  end)

  it("answers an empty page with the total when the page holds no room", function()
    fake.on_sql("AS total FROM chat_room_members", function() return { { total = 0 } } end)
    local raw = inbox.page(5, 0, 20)
    assert.equal('{"content":[],"pageable":{"pageNumber":0,"pageSize":20,"sort":{"sorted":true,"empty":false,'
      .. '"unsorted":false},"offset":0,"paged":true,"unpaged":false},"totalElements":0,"totalPages":0,'
      .. '"last":true,"size":20,"number":0,"sort":{"sorted":true,"empty":false,"unsorted":false},'
      .. '"numberOfElements":0,"first":true,"empty":true}', raw)
    fake.on_sql("AS total FROM chat_room_members", function() return { { total = 7 } } end)
    local page = json.decode(inbox.page(5, 9, 2))
    assert.equal(7, page.totalElements)
    assert.equal(0, page.numberOfElements)
  end)

  it("passes the database's error on", function()
    fake.pg_down("08006")
    local none, err = inbox.page(5, 0, 20)
    assert.is_nil(none)
    assert.equal("db_unavailable", err.code)
  end)
end)
