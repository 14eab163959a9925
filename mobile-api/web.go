package main

import (
	"embed"
	"io/fs"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"

	"gatepass/internal/access"
)

// web is the resident app: plain HTML, CSS and JavaScript modules, no build step.
//
//go:embed web
var web embed.FS

func (a *API) webRoutes() {
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	send := func(c *fiber.Ctx, name string) error {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return access.ErrNotFound
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.Set(fiber.HeaderContentType, ct)
		// Always revalidate: a resident must not run yesterday's app against today's API.
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(data)
	}
	index := func(c *fiber.Ctx) error { return send(c, "index.html") }
	a.app.Get("/", index)
	// The visitor's page: the token stays in the path, read by the app; the referrer
	// policy (no-referrer) keeps it from leaking to anything the page loads.
	a.app.Get("/v/:token", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return index(c)
	})
	a.app.Get("/assets/:file", func(c *fiber.Ctx) error { return send(c, path.Base(c.Params("file"))) })
}
