// Inkan's one script: the WebAuthn ceremonies behind the passkey buttons of the sign-in and
// account pages (issue 18). Everything else on the pages works without it. It only moves the
// authenticator's answer into the form; the server checks everything.
(function () {
  "use strict";
  function b64u(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function utf8(text) { return new TextEncoder().encode(text); }
  function failed(form, error) {
    var note = form.querySelector(".passkey-error");
    if (note) { note.hidden = false; note.textContent = note.dataset.text + " (" + error.name + ")"; }
  }

  var signIn = document.getElementById("passkey-sign-in");
  if (signIn && window.PublicKeyCredential) {
    signIn.hidden = false;
    signIn.querySelector("button").addEventListener("click", function () {
      navigator.credentials.get({ publicKey: {
        challenge: utf8(signIn.dataset.challenge),
        rpId: signIn.dataset.rp,
        userVerification: "required",
        allowCredentials: []
      } }).then(function (credential) {
        signIn.elements.credential_id.value = b64u(credential.rawId);
        signIn.elements.client_data.value = b64u(credential.response.clientDataJSON);
        signIn.elements.authenticator_data.value = b64u(credential.response.authenticatorData);
        signIn.elements.signature.value = b64u(credential.response.signature);
        signIn.submit();
      }, function (error) { failed(signIn, error); });
    });
  }

  var add = document.getElementById("passkey-add");
  if (add && window.PublicKeyCredential) {
    add.hidden = false;
    add.addEventListener("submit", function (event) {
      if (add.elements.attestation_object.value) { return; }
      event.preventDefault();
      navigator.credentials.create({ publicKey: {
        challenge: utf8(add.dataset.challenge),
        rp: { id: add.dataset.rp, name: "Inkan" },
        user: { id: utf8(add.dataset.user), name: add.dataset.username, displayName: add.dataset.username },
        pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -8 }],
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        attestation: add.dataset.attestation === "direct" ? "direct" : "none"
      } }).then(function (credential) {
        add.elements.client_data.value = b64u(credential.response.clientDataJSON);
        add.elements.attestation_object.value = b64u(credential.response.attestationObject);
        add.submit();
      }, function (error) { failed(add, error); });
    });
  }
})();
