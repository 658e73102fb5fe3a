/* 健康扶贫 page scripts (CSP forbids inline scripts: everything lives here). */
(function () {
  "use strict";

  // Refuse an oversized roster before it is sent: the server refuses it too (jkfp.web.uploads).
  function checkFileSize(input) {
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var error = document.getElementById("file-size-error");
    var file = input.files && input.files[0];
    if (!max || !file) { return true; }
    if (file.size > max) {
      var mb = Math.floor(max / 1048576) || 1;
      input.classList.add("is-invalid");
      if (error) { error.textContent = "文件超过上限 " + mb + " MB，请把名单拆成几个较小的文件分别导入。"; }
      return false;
    }
    input.classList.remove("is-invalid");
    if (error) { error.textContent = ""; }
    return true;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("input[type=file][data-max-bytes]")) {
      checkFileSize(target);
    }
  });

  // 退出 on the site's pages: the offline app's copy of the persons goes too (issue 20). Its outbox
  // stays, so a visit typed offline is never lost; the app shows it until it is sent or deleted.
  function wipeOfflineCopy(done) {
    var finished = false;
    var finish = function () { if (!finished) { finished = true; done(); } };
    setTimeout(finish, 1500);
    if (!window.indexedDB) { finish(); return; }
    var request = indexedDB.open("jkfp-offline");
    request.onupgradeneeded = function () { request.transaction.abort(); };  // no copy on this phone
    request.onerror = finish;
    request.onsuccess = function () {
      var db = request.result;
      if (!db.objectStoreNames.contains("persons")) { db.close(); finish(); return; }
      var tx = db.transaction(["persons", "meta"], "readwrite");
      tx.objectStore("persons").clear();
      tx.objectStore("meta").delete("scope");
      tx.oncomplete = tx.onabort = tx.onerror = function () { db.close(); finish(); };
    };
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-logout]") && !form.hasAttribute("data-wiped")) {
      event.preventDefault();
      wipeOfflineCopy(function () { form.setAttribute("data-wiped", ""); form.submit(); });
      return;
    }
    var input = form.querySelector && form.querySelector("input[type=file][data-max-bytes]");
    if (input && !checkFileSize(input)) {
      event.preventDefault();
      return;
    }
    var button = form.querySelector && form.querySelector("button[type=submit]");
    if (input && button) {
      button.disabled = true;
      button.textContent = "正在上传…";
    }
  });
})();
