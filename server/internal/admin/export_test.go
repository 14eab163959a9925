package admin

// Route is what the tests outside the package see of a route.
type Route struct{ Method, Path string }

// Routes is every admin route, for the tests that hold the route table to the
// authorization matrix and to the OpenAPI documents.
func Routes() []Route {
	var out []Route
	for _, r := range (&API{}).routes() {
		out = append(out, Route{r.method, r.path})
	}
	return out
}
