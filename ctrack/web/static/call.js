// The call page: a click (or Enter) on a transcript line plays the recording from there.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var transcript = document.getElementById("transcript");
  if (!player || !transcript) {
    return;
  }
  function playFrom(line) {
    var start = parseFloat(line.getAttribute("data-start"));
    if (isNaN(start)) {
      return;
    }
    player.currentTime = start;
    var playing = player.play();
    if (playing && playing.catch) {
      playing.catch(function () {});
    }
  }
  transcript.addEventListener("click", function (event) {
    var line = event.target.closest(".segment");
    if (line) {
      playFrom(line);
    }
  });
  transcript.addEventListener("keydown", function (event) {
    var line = event.target.closest(".segment");
    if (line && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      playFrom(line);
    }
  });
})();
