// Gale's live list: a WebSocket client with no build step.
//
// It subscribes from the sequence number the server rendered the page at, remembers the
// last sequence it applied, and after any disconnect reconnects with exponential backoff and
// full jitter (so a restarted server is not hit by every client at once), resuming from that
// sequence: the server replays what was missed, so no event is lost across a reconnect.
// Every user-visible text comes from data attributes the server rendered in the user's
// language; item text is inserted with textContent only, never as HTML.
(function () {
  "use strict";

  var list = document.getElementById("items");
  if (!list) { return; }
  var status = document.getElementById("live-status");
  var form = document.getElementById("new-item");
  var lastSeq = Number(list.dataset.seq || 0);
  var attempt = 0;
  var BASE_DELAY_MS = 250;
  var MAX_DELAY_MS = 15000;

  function setStatus(key) {
    if (status) { status.textContent = status.dataset[key + "Text"] || ""; status.dataset.state = key; }
  }

  function rowFor(item) {
    var row = document.createElement("li");
    row.className = "item-row";
    row.dataset.id = item.id;
    var link = document.createElement("a");
    link.className = "item-name";
    link.href = list.dataset.itemUrl.replace("ID", encodeURIComponent(item.id));
    link.textContent = item.name;
    var tags = document.createElement("span");
    tags.className = "tags";
    (item.tags || []).forEach(function (tag) {
      var chip = document.createElement("span");
      chip.className = "tag";
      chip.textContent = tag;
      tags.appendChild(chip);
    });
    row.appendChild(link);
    row.appendChild(tags);
    return row;
  }

  function existing(id) {
    var rows = list.querySelectorAll("li.item-row");
    for (var i = 0; i < rows.length; i++) { if (rows[i].dataset.id === id) { return rows[i]; } }
    return null;
  }

  function apply(frame) {
    var row = existing(frame.item.id);
    if (frame.event === "item.deleted") {
      if (row) { row.remove(); }
      return;
    }
    var fresh = rowFor(frame.item);
    if (row) { list.replaceChild(fresh, row); } else { list.insertBefore(fresh, list.firstChild); }
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + list.dataset.ws);
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "subscribe", resume_from: lastSeq }));
    };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "subscribed") {
        // The server's position may be past events this user cannot see: resume from there.
        lastSeq = Math.max(lastSeq, frame.seq);
        attempt = 0;
        setStatus("live");
      } else if (frame.type === "event" && frame.seq > lastSeq) {
        lastSeq = frame.seq;
        apply(frame);
      }
    };
    socket.onclose = function () {
      setStatus("reconnecting");
      var ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * Math.pow(2, attempt));
      attempt += 1;
      setTimeout(connect, Math.random() * ceiling);
    };
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var output = form.querySelector("output");
      output.textContent = "";
      var tags = form.elements.tags.value.split(",").map(function (t) { return t.trim(); })
        .filter(function (t) { return t.length > 0; });
      fetch("/api/v1/items", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-XSRFToken": form.dataset.xsrf },
        body: JSON.stringify({ name: form.elements.name.value, tags: tags })
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        form.reset();
      }).catch(function () { output.textContent = form.dataset.error; });
    });
  }

  connect();
}());
