package httpx

import "github.com/gofiber/fiber/v2"

// hstsValue asks browsers to use only HTTPS for this host for a year. Without
// includeSubDomains: other hosts of the property's domain are not ours to decide.
const hstsValue = "max-age=31536000"

// NoStore marks an answer that carries a secret shown once (a staff token, an invite or
// enrollment code, a session token, a visitor link) as one that no cache, shared or the
// browser's own, may keep: the secret would outlive the screen it was shown on. Handlers
// call it before they answer, error answers included, which carry no secret anyway.
func NoStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// strictTransport sends HSTS on answers to requests that came over HTTPS: over TLS to
// this process, or through a trusted proxy that says so in X-Forwarded-Proto (Fiber's
// Protocol believes the header only from Options.TrustedProxies). A plain-HTTP answer
// must not carry it: a browser ignores it there, and a development server on
// localhost would pin every other localhost service to HTTPS.
func strictTransport(c *fiber.Ctx) error {
	if c.Protocol() == "https" {
		c.Set(fiber.HeaderStrictTransportSecurity, hstsValue)
	}
	return c.Next()
}
