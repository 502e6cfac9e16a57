// Optional preload for the CLI driver (--callback-port ephemeral): the CLI's callback server
// listens on port 0 instead of its fixed 8055, so several logins can run at once. The CLI then
// sends redirect_uri http://127.0.0.1:<that port>/callback, which Node accepts for the
// registered http://127.0.0.1:8055/callback because loopback redirect URIs are compared
// without the port (RFC 8252 §7.3). Nothing else is changed.
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args[0] === 8055) args[0] = 0;
  return listen.apply(this, args);
};
