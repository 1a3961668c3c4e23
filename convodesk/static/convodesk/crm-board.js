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

  // A column's count and its sums per currency follow the deals moved in or out of it (the
  // column may hold more deals than it shows, so they are adjusted, not recounted).
  function cents(text) {
    return Math.round(parseFloat(text || "0") * 100);
  }

  function money(amount, currency) {
    var negative = amount < 0;
    var whole = String(Math.floor(Math.abs(amount) / 100));
    var fraction = String(Math.abs(amount) % 100).padStart(2, "0");
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, board.dataset.thousand || ",");
    return (negative ? "-" : "") + whole + (board.dataset.decimal || ".") + fraction + " " + currency;
  }

  function shift(deal, column, sign) {
    var count = column.querySelector("[data-count]");
    if (count) {
      count.dataset.count = String(parseInt(count.dataset.count || "0", 10) + sign);
      count.textContent = count.dataset.count.replace(/\B(?=(\d{3})+(?!\d))/g, board.dataset.thousand || ",");
    }
    var sum = column.querySelector("[data-sums]");
    if (!sum) return;
    var sums = JSON.parse(sum.dataset.sums || "{}");
    var currency = deal.dataset.currency;
    var total = cents(sums[currency]) + sign * cents(deal.dataset.amount);
    if (total === 0) delete sums[currency];
    else sums[currency] = (total / 100).toFixed(2);
    sum.dataset.sums = JSON.stringify(sums);
    sum.textContent = Object.keys(sums).sort().map(function (c) {
      return money(cents(sums[c]), c);
    }).join(" · ");
  }

  function moved(deal, from, to) {
    shift(deal, from.closest(".crm-column"), -1);
    shift(deal, to.closest(".crm-column"), 1);
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

  function putBack(deal, from, to) {
    from.insertBefore(deal, from.firstChild);
    moved(deal, to, from);
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
    var from = origin;
    var list = column.querySelector("[data-drop]");
    if (list === from) return;
    list.insertBefore(deal, list.firstChild);
    moved(deal, from, list);
    var reasonNeeded = column.dataset.outcome === "lost";
    var reason = reasonNeeded ? askReason() : Promise.resolve("");
    reason.then(function (text) {
      if (reasonNeeded && !text) { putBack(deal, from, list); return null; }
      return post(deal, column.dataset.stage, text).then(function () {
        deal.dataset.stage = column.dataset.stage;
        var select = deal.querySelector("select[name=stage]");
        if (select) select.value = column.dataset.stage;
        var flash = document.querySelector(".crm-board-error");
        if (flash) flash.remove();
      });
    }).catch(function (error) {
      putBack(deal, from, list);
      showError(error.message || board.dataset.error);
    });
  });
})();
