package admin

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/httpx"
	"gatepass/internal/store"
	"gatepass/internal/webhook"
)

// webhookRoutes are the signed webhooks' endpoints and delivery logs. Admins manage
// them; auditors read them; nobody reads a secret after the answer that made it.
func (a *API) webhookRoutes() []route {
	const one = "/communities/:community/webhooks/:webhook"
	return []route{
		{"POST", "/communities/:community/webhooks", access.ActManageWebhooks, a.createWebhook},
		{"GET", "/communities/:community/webhooks", access.ActReadWebhooks, a.listWebhooks},
		{"GET", one, access.ActReadWebhooks, onWebhook(a.getWebhook)},
		{"PATCH", one, access.ActManageWebhooks, onWebhook(a.updateWebhook)},
		{"DELETE", one, access.ActManageWebhooks, onWebhook(a.deleteWebhook)},
		{"POST", one + "/rotate-secret", access.ActManageWebhooks, onWebhook(a.rotateWebhookSecret)},
		{"POST", one + "/resume", access.ActManageWebhooks, onWebhook(a.resumeWebhook)},
		{"POST", one + "/ping", access.ActManageWebhooks, onWebhook(a.pingWebhook)},
		{"GET", one + "/deliveries", access.ActReadWebhooks, onWebhook(a.listWebhookDeliveries)},
	}
}

// onWebhook hands a handler the endpoint id of its path.
func onWebhook(h func(c *fiber.Ctx, r *request, id uuid.UUID) error) func(c *fiber.Ctx, r *request) error {
	return func(c *fiber.Ctx, r *request) error {
		id, err := httpx.PathUUID(c, "webhook")
		if err != nil {
			return err
		}
		return h(c, r, id)
	}
}

// webhookBody is what staff send to register or change an endpoint.
type webhookBody struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Events      *[]string `json:"events"`
}

// check reads the fields given; required says URL and events must be.
func (a *API) checkWebhook(in webhookBody, required bool) (store.WebhookEndpointPatch, error) {
	var p store.WebhookEndpointPatch
	var k httpx.Checker
	if in.URL != nil || required {
		raw := k.Text("url", in.URL, 1, webhook.MaxURL)
		if err := k.Err(); err != nil {
			return p, err
		}
		u, err := webhook.CheckURL(raw, a.WebhookLoopback)
		if err != nil {
			return p, err
		}
		p.URL = &u
	}
	if in.Description != nil {
		d := k.Text("description", in.Description, 0, 200)
		p.Description = &d
	}
	if err := k.Err(); err != nil {
		return p, err
	}
	if in.Events != nil || required {
		if in.Events == nil {
			return p, access.Invalid("events", "is required")
		}
		types, err := webhook.CheckTypes(*in.Events)
		if err != nil {
			return p, err
		}
		p.Events = types
	}
	return p, nil
}

// withSecret is an endpoint with its secret: the answer to create and rotate only.
type withSecret struct {
	webhook.Endpoint
	Secret string `json:"secret"`
}

func (a *API) createWebhook(c *fiber.Ctx, r *request) error {
	var in webhookBody
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	p, err := a.checkWebhook(in, true)
	if err != nil {
		return err
	}
	ne := store.NewWebhookEndpoint{Community: r.community, URL: *p.URL, Events: p.Events}
	if p.Description != nil {
		ne.Description = *p.Description
	}
	httpx.NoStore(c) // the secret
	return mutate(a, c, r, http.StatusCreated, func(tx *store.Tx) (withSecret, error) {
		e, secret, err := tx.CreateWebhookEndpoint(c.UserContext(), ne, a.sealer)
		return withSecret{e, secret}, err
	})
}

func (a *API) listWebhooks(c *fiber.Ctx, r *request) error {
	out, err := a.db.WebhookEndpoints(c.UserContext(), r.community)
	return listed(c, "webhooks", out, err)
}

func (a *API) getWebhook(c *fiber.Ctx, r *request, id uuid.UUID) error {
	out, err := a.db.WebhookEndpoint(c.UserContext(), r.community, id)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) updateWebhook(c *fiber.Ctx, r *request, id uuid.UUID) error {
	var in webhookBody
	if err := httpx.DecodeJSON(c, &in); err != nil {
		return err
	}
	p, err := a.checkWebhook(in, false)
	if err != nil {
		return err
	}
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (webhook.Endpoint, error) {
		return tx.UpdateWebhookEndpoint(c.UserContext(), r.community, id, p)
	})
}

func (a *API) deleteWebhook(c *fiber.Ctx, r *request, id uuid.UUID) error {
	if err := a.db.InTx(c.UserContext(), actor(r), func(tx *store.Tx) error {
		return tx.DeleteWebhookEndpoint(c.UserContext(), r.community, id)
	}); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

// defaultOverlap is how long the old secret keeps signing after a rotation unless
// staff say otherwise: a day to deploy the new one to the receiver.
const defaultOverlap = 24 * time.Hour

func (a *API) rotateWebhookSecret(c *fiber.Ctx, r *request, id uuid.UUID) error {
	var in struct {
		Overlap *string `json:"overlap"`
	}
	overlap := defaultOverlap
	if len(c.BodyRaw()) > 0 {
		if err := httpx.DecodeJSON(c, &in); err != nil {
			return err
		}
		if in.Overlap != nil {
			// "0s" ends the old secret at once (a leaked one).
			var err error
			if overlap, err = access.ParseTTL(*in.Overlap); err != nil {
				return access.Invalid("overlap", "%q is neither days (1d) nor a duration (36h)", *in.Overlap)
			}
		}
	}
	httpx.NoStore(c) // the secret
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (withSecret, error) {
		e, secret, err := tx.RotateWebhookSecret(c.UserContext(), r.community, id, overlap, time.Now(), a.sealer)
		return withSecret{e, secret}, err
	})
}

func (a *API) resumeWebhook(c *fiber.Ctx, r *request, id uuid.UUID) error {
	return mutate(a, c, r, http.StatusOK, func(tx *store.Tx) (webhook.Endpoint, error) {
		return tx.ResumeWebhookEndpoint(c.UserContext(), r.community, id, time.Now())
	})
}

func (a *API) pingWebhook(c *fiber.Ctx, r *request, id uuid.UUID) error {
	type queued struct {
		Event uuid.UUID `json:"event_id"`
	}
	return mutate(a, c, r, http.StatusAccepted, func(tx *store.Tx) (queued, error) {
		ev, err := tx.PingWebhook(c.UserContext(), r.community, id)
		return queued{ev}, err
	})
}

// listWebhookDeliveries is an endpoint's delivery log, newest first; before (an
// attempt's time, from next_before) pages back.
func (a *API) listWebhookDeliveries(c *fiber.Ctx, r *request, id uuid.UUID) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	var before time.Time
	if q := c.Query("before"); q != "" {
		if before, err = time.Parse(time.RFC3339Nano, q); err != nil {
			return access.Invalid("before", "must be an RFC 3339 time")
		}
	}
	if _, err := a.db.WebhookEndpoint(c.UserContext(), r.community, id); err != nil {
		return err
	}
	out, err := a.db.WebhookAttempts(c.UserContext(), r.community, id, before, limit)
	if err != nil {
		return err
	}
	page := fiber.Map{"deliveries": out}
	if len(out) == limit {
		page["next_before"] = out[len(out)-1].At.UTC().Format(time.RFC3339Nano)
	}
	return c.JSON(page)
}
