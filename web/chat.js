// The chat page: the original service's client code, unchanged in shape (new SockJS('/ws-chat'),
// Stomp.over(socket), /topic/chatroom/{id}, /app/chat.*), with chatd's room-state additions
// (docs/protocol.md): the room list (inbox), read marks and their pushes (each message's
// unread count), typing indicators, and resuming the room's topic after a dropped connection.
(function () {
  'use strict';

  var HISTORY_SIZE = 50;
  var INBOX_SIZE = 20;
  // Only the open room is subscribed to; the others' badges move on this period (and after
  // anything that happens in the open room).
  var INBOX_PERIOD_MS = 10000;
  var INBOX_COALESCE_MS = 300;
  var TYPING_SEND_MS = 2000;
  // The server pushes no typing:false when someone merely stops typing.
  var TYPING_SHOW_MS = 5000;
  var RECONNECT_FIRST_MS = 1000;
  var RECONNECT_MAX_MS = 10000;

  var $ = function (id) { return document.getElementById(id); };
  var query = new URLSearchParams(location.search);
  // With CHAT_AUTH=jwt the page needs a token: ?token=... (a SockJS client cannot set
  // headers, so it travels as access_token on the SockJS URL; REST gets a bearer header).
  var token = query.get('token');
  var userId, nickname;
  // Neither a SockJS socket nor a stompjs 2.3 client can be reopened: every attempt makes
  // both anew, and callbacks of an older attempt are ignored.
  var conn = { socket: null, client: null, connected: false, everConnected: false, refused: false,
               retryMs: RECONNECT_FIRST_MS };
  var open = null; // the open room (newRoom); callbacks for a room no longer open do nothing
  var inboxTimer = null;
  var lastTypingSent = 0;

  function newRoom(id) {
    return {
      id: id,
      subscriptions: [],
      shown: {},     // message id -> its div: each message is shown once, however it came
      historyLoaded: false,
      lastId: 0,     // the newest message shown (0: none), where a resumed subscription starts
      markedId: 0,   // the newest message this page has marked read
      marking: false,
      marks: {},     // memberId -> lastReadMessageId (0 for none) of every active member
      typers: {},    // memberId -> { nickname, timer }
      joined: false  // a reconnect must not send chat.join again (its JOIN message is stored)
    };
  }

  // ---- REST ----

  function authHeaders() {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  // The JSON answer, or null on any failure: the page shows what it can.
  function getJson(path) {
    return fetch(path, { headers: authHeaders() })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  function post(path) {
    return fetch(path, { method: 'POST', headers: authHeaders() })
      .then(function (r) { return r.ok; }, function () { return false; });
  }

  // ---- messages ----

  function textSpan(className, text) {
    var span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    return span;
  }

  function messageDiv(m) {
    var div = document.createElement('div');
    div.className = 'message' + (m.messageType === 'CHAT' ? '' : ' system');
    div.dataset.id = m.id;
    if (m.messageType === 'CHAT') {
      div.dataset.sender = m.senderId;
      div.appendChild(textSpan('who', m.senderNickname || ('#' + m.senderId)));
    }
    div.appendChild(document.createTextNode(m.content == null ? '' : m.content));
    if (m.messageType === 'CHAT') div.appendChild(textSpan('unread-count', ''));
    return div;
  }

  // Keeps the list in id order whichever way a message comes (history, live, replayed after
  // a reconnect): a history answer landing after the first live messages still reads right.
  // True when the message went to the end.
  function insertInOrder(div, id) {
    var list = $('messages');
    var next = null;
    for (var el = list.lastElementChild; el && Number(el.dataset.id) > id; el = el.previousElementSibling) next = el;
    list.insertBefore(div, next);
    return next === null;
  }

  function showMessage(room, m, replayed) {
    if (room !== open || room.shown[m.id]) return;
    var div = messageDiv(m);
    if (replayed) div.dataset.replayed = 'true';
    room.shown[m.id] = div;
    room.lastId = Math.max(room.lastId, m.id);
    if (insertInOrder(div, m.id)) $('messages').scrollTop = $('messages').scrollHeight;
    if (m.messageType === 'CHAT') {
      showUnreadCount(room, div);
      stopTyping(room, m.senderId);
    }
    markRead(room);
  }

  function loadHistory(room) {
    // Newest first, whatever `sort` says (docs/protocol.md); insertInOrder puts them right.
    return getJson('/api/chat/rooms/' + room.id + '/messages?page=0&size=' + HISTORY_SIZE + '&sort=createdAt,desc')
      .then(function (page) {
        if (!page) return;
        page.content.forEach(function (m) { showMessage(room, m, false); });
        room.historyLoaded = true;
      });
  }

  // The server would not replay that many messages: start again from the recent history
  // rather than show a list with a hole in it.
  function reloadHistory(room) {
    room.shown = {};
    $('messages').innerHTML = '';
    loadHistory(room);
  }

  function onRoomMessage(room, frame) {
    if (room !== open) return;
    var resume = frame.headers.resume;
    if (resume === 'gap') {
      reloadHistory(room);
      return;
    }
    showMessage(room, JSON.parse(frame.body), resume === 'replay');
    scheduleInboxRefresh();
  }

  // ---- read marks: the room's badge and each message's unread count ----

  // KakaoTalk's "1": the active members who have not read up to the message, not counting
  // its sender, nor this page's user, who is looking at it.
  function unreadCount(room, div) {
    var id = Number(div.dataset.id);
    var sender = Number(div.dataset.sender);
    var n = 0;
    Object.keys(room.marks).forEach(function (member) {
      member = Number(member);
      if (member !== sender && member !== userId && room.marks[member] < id) n++;
    });
    return n;
  }

  function showUnreadCount(room, div) {
    var n = unreadCount(room, div);
    var el = div.querySelector('.unread-count');
    el.textContent = n ? String(n) : '';
    el.hidden = n === 0;
  }

  function showUnreadCounts(room) {
    Object.keys(room.shown).forEach(function (id) {
      if (room.shown[id].dataset.sender) showUnreadCount(room, room.shown[id]);
    });
  }

  function moveMark(room, memberId, id) {
    room.marks[memberId] = Math.max(room.marks[memberId] || 0, id || 0);
    if (room === open) showUnreadCounts(room);
  }

  function loadReadMarks(room) {
    return getJson('/api/chat/rooms/' + room.id + '/read-marks').then(function (list) {
      if (!list || room !== open) return;
      var marks = {};
      list.forEach(function (m) {
        // A push may have overtaken this answer; marks only move forward.
        marks[m.memberId] = Math.max(m.lastReadMessageId || 0, room.marks[m.memberId] || 0);
      });
      room.marks = marks;
      showUnreadCounts(room);
    });
  }

  // Marks what the open room shows as read (endpoint 7), one request at a time, only while
  // the page can be seen. The mark zeroes the room's badge and reaches the other members as
  // a read push.
  function markRead(room) {
    if (room !== open || room.marking || room.lastId <= room.markedId || document.hidden) return;
    var id = room.lastId;
    room.marking = true;
    post('/api/chat/rooms/' + room.id + '/read?memberId=' + userId + '&lastMessageId=' + id).then(function (ok) {
      room.marking = false;
      if (!ok) return;
      room.markedId = id;
      moveMark(room, userId, id);
      scheduleInboxRefresh();
      markRead(room);
    });
  }

  // ---- the room list ----

  function preview(m) {
    return m.messageType === 'CHAT' ? (m.senderNickname || ('#' + m.senderId)) + ': ' + m.content : m.content;
  }

  function roomItem(r) {
    var last = r.lastMessage;
    var button = document.createElement('button');
    button.type = 'button';
    button.appendChild(textSpan('room-name', r.name));
    var time = document.createElement('time');
    time.className = 'last-time';
    if (last) {
      time.dateTime = last.createdAt;
      time.textContent = last.createdAt.slice(5, 16).replace('T', ' ');
    }
    button.appendChild(time);
    button.appendChild(textSpan('last-message', last ? preview(last) : ''));
    var badge = textSpan('unread', String(r.unreadCount));
    badge.hidden = r.unreadCount === 0;
    button.appendChild(badge);
    button.addEventListener('click', function () { openRoom(r.id); });
    var li = document.createElement('li');
    li.className = 'room';
    li.dataset.roomId = r.id;
    li.appendChild(button);
    return li;
  }

  function highlightOpenRoom() {
    Array.prototype.forEach.call(document.querySelectorAll('#rooms li'), function (li) {
      li.classList.toggle('open', open !== null && Number(li.dataset.roomId) === open.id);
    });
  }

  function refreshInbox() {
    getJson('/api/chat/rooms?memberId=' + userId + '&page=0&size=' + INBOX_SIZE).then(function (page) {
      if (!page) return;
      var ul = $('rooms');
      ul.innerHTML = '';
      page.content.forEach(function (r) {
        ul.appendChild(roomItem(r));
        // Someone joined or left the open room: the unread counts need their marks.
        if (open && r.id === open.id && r.memberCount !== Object.keys(open.marks).length) loadReadMarks(open);
      });
      highlightOpenRoom();
    });
  }

  // One request for a burst of messages or marks.
  function scheduleInboxRefresh() {
    if (inboxTimer !== null) return;
    inboxTimer = setTimeout(function () {
      inboxTimer = null;
      refreshInbox();
    }, INBOX_COALESCE_MS);
  }

  // ---- typing ----

  function showTyping(room) {
    if (room !== open) return;
    var names = Object.keys(room.typers).map(function (id) { return room.typers[id].nickname; });
    $('typing').textContent = names.length === 0 ? ''
      : names.join(', ') + (names.length === 1 ? ' is typing…' : ' are typing…');
  }

  function stopTyping(room, memberId) {
    var typer = room.typers[memberId];
    if (!typer) return;
    clearTimeout(typer.timer);
    delete room.typers[memberId];
    showTyping(room);
  }

  function onTyping(room, t) {
    if (t.memberId === userId) return;
    if (!t.typing) {
      stopTyping(room, t.memberId);
      return;
    }
    var typer = room.typers[t.memberId];
    if (typer) clearTimeout(typer.timer);
    room.typers[t.memberId] = {
      nickname: t.nickname || ('#' + t.memberId),
      timer: setTimeout(function () { stopTyping(room, t.memberId); }, TYPING_SHOW_MS)
    };
    showTyping(room);
  }

  function announceTyping() {
    var now = Date.now();
    if (!conn.connected || !$('content').value || now - lastTypingSent < TYPING_SEND_MS) return;
    lastTypingSent = now;
    send('/app/chat.typing', open.id, 'CHAT', '');
  }

  // ---- STOMP ----

  function send(destination, roomId, messageType, content) {
    var body = { chatRoomId: roomId, senderId: userId, senderNickname: nickname, messageType: messageType };
    if (content !== undefined) body.content = content;
    conn.client.send(destination, {}, JSON.stringify(body));
  }

  function showPresence(list) {
    var ul = $('presence');
    ul.innerHTML = '';
    list.forEach(function (p) {
      var li = document.createElement('li');
      li.textContent = p.nickname || ('#' + p.memberId);
      ul.appendChild(li);
    });
  }

  // stompjs 2.3 leaves STOMP 1.1's escapes in header values.
  function headerValue(value) {
    return value.replace(/\\([\\cnr])/g, function (_, c) {
      return { '\\': '\\', c: ':', n: '\n', r: '\r' }[c];
    });
  }

  function showError(text) {
    var li = document.createElement('li');
    li.textContent = text;
    $('errors').appendChild(li);
  }

  function subscribeRoom(room) {
    var client = conn.client;
    var topic = '/topic/chatroom/' + room.id;
    // A chatd addition: the server first replays what the room got after the newest message
    // shown (each with the header resume:replay), or answers resume:gap when that is too much.
    // Before the history has come, it will show the past itself.
    var resume = room.historyLoaded ? { 'last-message-id': String(room.lastId) } : {};
    room.subscriptions = [
      client.subscribe(topic, function (frame) { onRoomMessage(room, frame); }, resume),
      client.subscribe(topic + '/presence', function (frame) {
        if (room === open) showPresence(JSON.parse(frame.body));
      }),
      client.subscribe(topic + '/read', function (frame) {
        var mark = JSON.parse(frame.body);
        moveMark(room, mark.memberId, mark.lastReadMessageId);
      }),
      client.subscribe(topic + '/typing', function (frame) { onTyping(room, JSON.parse(frame.body)); })
    ];
    if (!room.joined) {
      room.joined = true;
      send('/app/chat.join', room.id, 'JOIN');
    }
  }

  function leaveRoom(room) {
    room.subscriptions.forEach(function (s) { s.unsubscribe(); });
    send('/app/chat.leave', room.id, 'LEAVE');
  }

  function setComposerEnabled(enabled) {
    $('content').disabled = !enabled;
    document.querySelector('#composer button').disabled = !enabled;
  }

  function onConnected(socket) {
    var reconnected = conn.everConnected;
    conn.connected = conn.everConnected = true;
    conn.retryMs = RECONNECT_FIRST_MS;
    $('status').textContent = 'connected (' + socket.transport + ')';
    conn.client.subscribe('/user/queue/errors', function (frame) { showError(frame.body); });
    if (open) {
      subscribeRoom(open);
      // Read pushes and other rooms' messages missed while the connection was down.
      if (reconnected) {
        loadReadMarks(open);
        scheduleInboxRefresh();
      }
    }
    setComposerEnabled(true);
  }

  // stompjs calls this with an ERROR frame, and with a text whenever the socket closes
  // (after an ERROR too, since the server closes then). An ERROR before CONNECTED refuses
  // the session (no token, a bad one): that is final. Otherwise the socket is opened again
  // once it has closed, after 1, 2, 4... up to 10 s.
  function onConnectionLost(failure) {
    var errorFrame = typeof failure !== 'string';
    if (errorFrame && !conn.connected) conn.refused = true;
    conn.connected = false;
    setComposerEnabled(false);
    if (errorFrame) showError(failure.headers.message ? headerValue(failure.headers.message) : failure.body);
    if (conn.refused) {
      $('status').textContent = 'disconnected';
      return;
    }
    if (errorFrame) return;
    $('status').textContent = 'reconnecting';
    setTimeout(connect, conn.retryMs);
    conn.retryMs = Math.min(conn.retryMs * 2, RECONNECT_MAX_MS);
  }

  function connect() {
    var socket = new SockJS(token ? '/ws-chat?access_token=' + encodeURIComponent(token) : '/ws-chat');
    var client = Stomp.over(socket);
    client.debug = null;
    conn.socket = socket;
    conn.client = client;
    client.connect({}, function () {
      if (client === conn.client) onConnected(socket);
    }, function (failure) {
      if (client === conn.client) onConnectionLost(failure);
    });
  }

  // ---- rooms and entering ----

  function openRoom(id) {
    if (open && open.id === id) return;
    if (open && conn.connected) leaveRoom(open);
    var room = open = newRoom(id);
    $('roomId').value = id;
    $('messages').innerHTML = '';
    $('presence').innerHTML = '';
    showTyping(room);
    highlightOpenRoom();
    loadHistory(room);
    loadReadMarks(room);
    if (conn.connected) subscribeRoom(room);
  }

  function enter() {
    userId = Number($('userId').value);
    nickname = $('nickname').value;
    $('login').querySelector('button').disabled = true;
    openRoom(Number($('roomId').value));
    connect();
    refreshInbox();
    setInterval(function () {
      if (!document.hidden) refreshInbox();
    }, INBOX_PERIOD_MS);
  }

  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    enter();
  });

  $('composer').addEventListener('submit', function (e) {
    e.preventDefault();
    send('/app/chat.sendMessage', open.id, 'CHAT', $('content').value);
    $('content').value = '';
    // Whatever is typed next is a new message: announce it at once.
    lastTypingSent = 0;
  });

  $('content').addEventListener('input', announceTyping);

  // Back in sight: what arrived meanwhile is read now.
  document.addEventListener('visibilitychange', function () {
    if (document.hidden || !open) return;
    markRead(open);
    refreshInbox();
  });

  // Drops the connection as a network failure would (no STOMP DISCONNECT), to watch the
  // reconnect and the resume; the end-to-end tests use it.
  window.chatdDebug = {
    dropConnection: function () { conn.socket.close(); }
  };

  // ?room=1&user=2&nick=x fills the form and, when it names both the room and the user,
  // enters the room at once (a link into a room); &token=... for a server that verifies
  // tokens.
  if (query.get('room')) $('roomId').value = query.get('room');
  if (query.get('user')) $('userId').value = query.get('user');
  if (query.get('nick')) $('nickname').value = query.get('nick');
  if (query.get('room') && query.get('user')) enter();
})();
