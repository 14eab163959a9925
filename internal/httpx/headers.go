package httpx

import "github.com/gofiber/fiber/v2"

// NoStore marks an answer that carries a secret shown once (a staff token, an invite or
// enrollment code, a session token, a visitor link) as one that no cache, shared or the
// browser's own, may keep: the secret would outlive the screen it was shown on. Handlers
// call it before they answer, error answers included, which carry no secret anyway.
func NoStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
}
