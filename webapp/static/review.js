// The review page's player: the timeline moves it, a comment's moment plays from there, and
// the comment form takes the player's moment. Without this script every link still works:
// it reloads the page with the recording opened at its moment (?t=, a media fragment).
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  var timeline = document.getElementById("timeline");
  var playhead = document.getElementById("playhead");
  var moment = document.getElementById("moment");
  var momentNow = document.getElementById("moment-now");

  function duration() {
    return isFinite(player.duration) && player.duration > 0
      ? player.duration : Number(player.dataset.duration) || 0;
  }

  function label(seconds) {
    var s = Math.floor(seconds);
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function seek(seconds, play) {
    var go = function () {
      player.currentTime = seconds;
      if (play) { player.play().catch(function () {}); }
    };
    if (player.readyState >= 1) { go(); } else {
      player.addEventListener("loadedmetadata", go, { once: true });
      player.load();
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-seek]");
    if (!link) { return; }
    event.preventDefault();
    seek(Number(link.getAttribute("data-seek")), true);
    player.scrollIntoView({ block: "nearest" });
  });

  if (timeline) {
    timeline.addEventListener("click", function (event) {
      if (event.target.closest("[data-seek]")) { return; }
      var box = timeline.getBoundingClientRect();
      var at = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * duration();
      seek(at, false);
      if (moment) { moment.value = label(at); }
    });
  }

  player.addEventListener("timeupdate", function () {
    if (playhead && duration()) {
      var x = String(1000 * player.currentTime / duration());
      playhead.setAttribute("x1", x);
      playhead.setAttribute("x2", x);
    }
  });

  if (momentNow && moment) {
    momentNow.hidden = false;
    momentNow.addEventListener("click", function () {
      moment.value = label(player.currentTime);
      moment.focus();
    });
  }
}());
