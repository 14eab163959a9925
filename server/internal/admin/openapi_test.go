package admin_test

import (
	"testing"

	"gatepass/internal/apitest"
	"gatepass/server/internal/admin"
)

func TestEveryAdminRouteIsDocumented(t *testing.T) {
	ops := apitest.DocumentedOperations(t, "../../../docs/openapi*.yaml")
	for _, r := range admin.Routes() {
		key := r.Method + " /admin/v1" + apitest.OpenAPIPath(r.Path)
		if !ops[key] {
			t.Errorf("%s is not in docs/openapi*.yaml", key)
		}
	}
}
