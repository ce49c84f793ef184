// SM2 certificate login form: read the certificate and the key locally, sign the challenge
// with window.ShaobingSM2 (sm2-login.js), send certificate + signature; the key stays here.
"use strict";
(function () {
  function readText(input) {
    return new Promise(function (resolve, reject) {
      var file = input.files && input.files[0];
      if (!file) { reject(new Error("未选择文件")); return; }
      if (file.size > 16384) { reject(new Error("文件过大：" + file.name)); return; }
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(new Error("无法读取文件：" + file.name)); };
      reader.readAsText(file);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cert-form");
    if (!form) return;
    var error = document.getElementById("cert-error");
    var signed = false;
    form.addEventListener("submit", function (event) {
      if (signed) return;
      event.preventDefault();
      error.hidden = true;
      Promise.all([readText(document.getElementById("cert-file")), readText(document.getElementById("key-file"))])
        .then(function (texts) {
          var username = form.elements.username.value;
          var challenge = form.elements.challenge.value;
          form.elements.certificate.value = texts[0];
          form.elements.signature.value = window.ShaobingSM2.signChallenge(texts[1], challenge, username);
          signed = true;
          form.submit();
        })
        .catch(function (problem) {
          error.textContent = "签名失败：" + (problem && problem.message ? problem.message : problem);
          error.hidden = false;
        });
    });
  });
})();
