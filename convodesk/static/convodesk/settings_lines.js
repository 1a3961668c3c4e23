/* Open channel settings: members in order (picked from an htmx search, moved up and down,
 * removed), the weekly working-hours grid and the holiday list. No inline script: the CSP
 * allows only files from 'self'. Everything is plain form fields, so the server sees exactly
 * what the screen shows. */
(function () {
  "use strict";

  function form() { return document.getElementById("line-form"); }

  function fromTemplate(id) {
    var tpl = document.getElementById(id);
    return tpl.content.firstElementChild.cloneNode(true);
  }

  function addMember(id, name) {
    var list = document.getElementById("line-members");
    if (list.querySelector('[data-member-id="' + CSS.escape(id) + '"]')) return;
    var li = fromTemplate("member-template");
    li.setAttribute("data-member-id", id);
    li.querySelector("input[name=members]").value = id;
    li.querySelector(".member-name").textContent = name;
    list.appendChild(li);
  }

  function nameHoursRow(row) {
    var day = row.getAttribute("data-day");
    row.querySelectorAll(".hours-start").forEach(function (el) { el.name = "hours_" + day + "_start"; });
    row.querySelectorAll(".hours-end").forEach(function (el) { el.name = "hours_" + day + "_end"; });
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target || !form()) return;

    var pick = target.closest(".member-pick");
    if (pick) {
      addMember(pick.getAttribute("data-member-id"), pick.getAttribute("data-member-name"));
      var search = document.getElementById("member-search");
      search.value = "";
      document.getElementById("member-results").replaceChildren();
      search.focus();
      return;
    }
    var member = target.closest(".member");
    if (member && target.closest(".member-up")) {
      if (member.previousElementSibling) member.parentNode.insertBefore(member, member.previousElementSibling);
      return;
    }
    if (member && target.closest(".member-down")) {
      if (member.nextElementSibling) member.parentNode.insertBefore(member.nextElementSibling, member);
      return;
    }
    if (member && target.closest(".member-remove")) { member.remove(); return; }

    var add = target.closest(".hours-add");
    if (add) {
      var row = add.closest(".hours-row");
      var range = fromTemplate("hours-range-template");
      row.querySelector(".hours-ranges").insertBefore(range, row.querySelector(".hours-closed"));
      nameHoursRow(row);
      range.querySelector("input").focus();
      return;
    }
    var removeRange = target.closest(".hours-remove");
    if (removeRange) { removeRange.closest(".hours-range").remove(); return; }

    if (target.closest("#holiday-add")) {
      var item = fromTemplate("holiday-template");
      document.getElementById("line-holidays").appendChild(item);
      item.querySelector("input").focus();
      return;
    }
    var removeHoliday = target.closest(".holiday-remove");
    if (removeHoliday) { removeHoliday.closest(".holiday").remove(); }
  });

  // Enter in the member search must not save the whole form.
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target instanceof Element && e.target.id === "member-search") {
      e.preventDefault();
      var first = document.querySelector("#member-results .member-pick");
      if (first) first.click();
    }
  });
})();
