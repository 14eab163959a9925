package main

import (
	"embed"
	"io/fs"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/httpx"
)

// web is the resident app: plain HTML, CSS and JavaScript modules, no build step. The
// one third-party file, the QR encoder, is vendored under web/vendor with its licence.
//
//go:embed web
var web embed.FS

// webTypes are the types mime does not know.
var webTypes = map[string]string{".webmanifest": "application/manifest+json"}

func (a *API) webRoutes() {
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	send := func(c *fiber.Ctx, name, cache string) error { return httpx.SendFile(c, files, name, cache, webTypes) }
	// Always revalidate: a resident must not run yesterday's app against today's API.
	// (The service worker keeps a copy for when there is no network.)
	const revalidate = "no-cache"
	a.app.Get("/", func(c *fiber.Ctx) error { return send(c, "index.html", revalidate) })
	// The visitor's page and the invite link carry their secret in the path: never
	// stored by a cache (the service worker does not keep them either), and the referrer
	// policy (no-referrer) keeps them from leaking to anything the page loads. The app
	// reads an invite code and then replaces the address with "/".
	a.app.Get("/v/:token", func(c *fiber.Ctx) error { return send(c, "index.html", "no-store") })
	a.app.Get("/i/:code", func(c *fiber.Ctx) error { return send(c, "index.html", "no-store") })
	// A service worker controls the pages under its own path, so it is served at the root.
	a.app.Get("/sw.js", func(c *fiber.Ctx) error { return send(c, "sw.js", revalidate) })
	a.app.Get("/manifest.webmanifest", func(c *fiber.Ctx) error { return send(c, "manifest.webmanifest", revalidate) })
	a.app.Get("/assets/*", func(c *fiber.Ctx) error { return send(c, c.Params("*"), revalidate) })
}
