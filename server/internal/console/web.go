package console

import (
	"embed"
	"io/fs"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/httpx"
)

// web is the console: plain HTML, CSS and JavaScript modules, no build step.
//
//go:embed web
var web embed.FS

// csp allows the console's own files only: no inline script, no other origin. QR
// images arrive as data: URLs, cards as blob: URLs made from the API's PNG.
const csp = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func (k *Console) webRoutes(r fiber.Router) {
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	send := func(c *fiber.Ctx, name string) error {
		c.Set("Content-Security-Policy", csp)
		c.Set("Referrer-Policy", "no-referrer")
		c.Set("X-Content-Type-Options", "nosniff")
		// Always revalidate: staff must not run yesterday's console against today's API.
		return httpx.SendFile(c, files, name, "no-cache", nil)
	}
	// Routing is not strict: this serves /console as well as /console/.
	r.Get("/console/", func(c *fiber.Ctx) error { return send(c, "index.html") })
	r.Get("/console/*", func(c *fiber.Ctx) error { return send(c, c.Params("*")) })
}
