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
	send := func(c *fiber.Ctx, name, cache string) error {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return access.ErrNotFound
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.Set(fiber.HeaderContentType, ct)
		c.Set(fiber.HeaderCacheControl, cache)
		return c.Send(data)
	}
	// Always revalidate: a resident must not run yesterday's app against today's API.
	const revalidate = "no-cache"
	a.app.Get("/", func(c *fiber.Ctx) error { return send(c, "index.html", revalidate) })
	// The visitor's page: the token stays in the path, read by the app; the referrer
	// policy (no-referrer) keeps it from leaking to anything the page loads.
	a.app.Get("/v/:token", func(c *fiber.Ctx) error { return send(c, "index.html", "no-store") })
	a.app.Get("/assets/:file", func(c *fiber.Ctx) error { return send(c, path.Base(c.Params("file")), revalidate) })
}
