/* The deal board: drag a deal to another stage column. The move is posted to the deal's
 * move URL (the same one the card's Move form posts); a lost stage asks for the reason first.
 * On refusal the card goes back where it was and the server's message is shown.
 * Static file: the CSP allows no inline script. */
(function () {
  "use strict";
  var board = document.getElementById("crm-board");
  if (!board) return;
  var csrf = document.querySelector("#crm-board-csrf input[name=csrfmiddlewaretoken]");
  var dialog = document.getElementById("crm-lost-dialog");
  var dragged = null;
  var origin = null;

  function moveUrl(id) {
    return board.dataset.moveUrl.replace("/0/", "/" + id + "/");
  }

  function recount() {
    board.querySelectorAll(".crm-column").forEach(function (col) {
      var count = col.querySelector("[data-count]");
      if (count) count.textContent = col.querySelectorAll(".crm-deal").length;
    });
  }

  function showError(text) {
    var flash = document.querySelector(".crm-board-error");
    if (!flash) {
      flash = document.createElement("div");
      flash.className = "flash crm-board-error";
      flash.setAttribute("role", "alert");
      board.parentNode.insertBefore(flash, board);
    }
    flash.textContent = text;
  }

  function askReason() {
    return new Promise(function (resolve) {
      if (!dialog || typeof dialog.showModal !== "function") {
        resolve(window.prompt(board.dataset.lostPrompt) || "");
        return;
      }
      var input = dialog.querySelector("input[name=reason]");
      input.value = "";
      dialog.returnValue = "";
      dialog.showModal();
      var cancel = document.getElementById("crm-lost-cancel");
      function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "ok" ? input.value.trim() : "");
      }
      cancel.onclick = function () { dialog.close("cancel"); };
      dialog.addEventListener("close", done);
    });
  }

  function post(deal, stage, reason) {
    var body = new URLSearchParams();
    body.set("stage", stage);
    body.set("reason", reason || "");
    return fetch(moveUrl(deal.dataset.deal), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.value : "", Accept: "application/json" },
      body: body,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var errors = data.errors ? Object.values(data.errors).join(" ") : board.dataset.error;
          throw new Error(errors);
        }
        return data;
      });
    });
  }

  function putBack() {
    if (dragged && origin) origin.insertBefore(dragged, origin.firstChild);
    recount();
  }

  board.addEventListener("dragstart", function (event) {
    var deal = event.target.closest && event.target.closest(".crm-draggable");
    if (!deal) return;
    dragged = deal;
    origin = deal.parentNode;
    deal.classList.add("crm-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", deal.dataset.deal);
  });
  board.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("crm-dragging");
    board.querySelectorAll(".crm-drop-target").forEach(function (el) { el.classList.remove("crm-drop-target"); });
  });
  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".crm-column");
    if (!column || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".crm-drop-target").forEach(function (el) {
      if (el !== column) el.classList.remove("crm-drop-target");
    });
    column.classList.add("crm-drop-target");
  });
  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".crm-column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.remove("crm-drop-target");
    var deal = dragged;
    var list = column.querySelector("[data-drop]");
    if (list === origin) return;
    list.insertBefore(deal, list.firstChild);
    recount();
    var reasonNeeded = column.dataset.outcome === "lost";
    var reason = reasonNeeded ? askReason() : Promise.resolve("");
    reason.then(function (text) {
      if (reasonNeeded && !text) { putBack(); return null; }
      return post(deal, column.dataset.stage, text).then(function () {
        deal.dataset.stage = column.dataset.stage;
        var select = deal.querySelector("select[name=stage]");
        if (select) select.value = column.dataset.stage;
        var flash = document.querySelector(".crm-board-error");
        if (flash) flash.remove();
      });
    }).catch(function (error) {
      putBack();
      showError(error.message || board.dataset.error);
    });
  });
})();
