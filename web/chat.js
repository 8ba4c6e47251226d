// The chat page: history over REST, then the original service's client code, unchanged in
// shape: new SockJS('/ws-chat'), Stomp.over(socket), /topic/chatroom/{id}, /app/chat.*.
(function () {
  var stompClient = null;
  var room, userId, nickname;
  // With CHAT_AUTH=jwt the page needs a token: ?token=... (a SockJS client cannot set
  // headers, so it travels as access_token on the SockJS URL; REST gets a bearer header).
  var token = new URLSearchParams(location.search).get('token');
  var $ = function (id) { return document.getElementById(id); };

  function showMessage(m) {
    var div = document.createElement('div');
    div.className = 'message' + (m.messageType === 'CHAT' ? '' : ' system');
    div.dataset.id = m.id;
    if (m.messageType === 'CHAT') {
      var who = document.createElement('span');
      who.className = 'who';
      who.textContent = m.senderNickname || ('#' + m.senderId);
      div.appendChild(who);
    }
    div.appendChild(document.createTextNode(m.content));
    $('messages').appendChild(div);
    $('messages').scrollTop = $('messages').scrollHeight;
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

  function showError(text) {
    var li = document.createElement('li');
    li.textContent = text;
    $('errors').appendChild(li);
  }

  function loadHistory() {
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    return fetch('/api/chat/rooms/' + room + '/messages?size=50&sort=createdAt,asc', { headers: headers })
      .then(function (r) { return r.ok ? r.json() : { content: [] }; })
      .then(function (page) { page.content.forEach(showMessage); });
  }

  function connect() {
    var socket = new SockJS(token ? '/ws-chat?access_token=' + encodeURIComponent(token) : '/ws-chat');
    stompClient = Stomp.over(socket);
    stompClient.debug = null;
    stompClient.connect({}, function (frame) {
      $('status').textContent = 'connected (' + socket.transport + ')';
      stompClient.subscribe('/topic/chatroom/' + room, function (message) {
        showMessage(JSON.parse(message.body));
      });
      stompClient.subscribe('/topic/chatroom/' + room + '/presence', function (message) {
        showPresence(JSON.parse(message.body));
      });
      stompClient.subscribe('/user/queue/errors', function (message) {
        showError(message.body);
      });
      stompClient.send('/app/chat.join', {}, JSON.stringify({
        chatRoomId: room, senderId: userId, senderNickname: nickname, messageType: 'JOIN' }));
      $('content').disabled = false;
      document.querySelector('#composer button').disabled = false;
    }, function () {
      $('status').textContent = 'disconnected';
    });
  }

  function enter() {
    room = Number($('roomId').value);
    userId = Number($('userId').value);
    nickname = $('nickname').value;
    $('login').querySelector('button').disabled = true;
    loadHistory().then(connect);
  }

  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    enter();
  });

  $('composer').addEventListener('submit', function (e) {
    e.preventDefault();
    var content = $('content').value;
    stompClient.send('/app/chat.sendMessage', {}, JSON.stringify({
      chatRoomId: room, senderId: userId, senderNickname: nickname, content: content, messageType: 'CHAT' }));
    $('content').value = '';
  });

  // ?room=1&user=2&nick=x fills the form and, when it names both the room and the user,
  // enters the room at once (a link into a room); &token=... for a server that verifies
  // tokens.
  var q = new URLSearchParams(location.search);
  if (q.get('room')) $('roomId').value = q.get('room');
  if (q.get('user')) $('userId').value = q.get('user');
  if (q.get('nick')) $('nickname').value = q.get('nick');
  if (q.get('room') && q.get('user')) enter();
})();
