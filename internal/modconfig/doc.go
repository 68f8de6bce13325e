// Package modconfig is a module's operator-editable configuration: the
// JSON Schema a module declares as "configSchema" in its module.json, and
// the values the hub keeps for it in <root>/<short>/config.json, the file
// first-party modules read at start (scribe's config.json is the model).
//
// The reference hub proxied GET/PUT /api/modules/<short>/config to each
// module's own /.parachute/config endpoint, so every module carried its own
// validator and the hub learnt nothing. Here the hub owns the contract:
//
//   - the schema is compiled once per module.json version with
//     github.com/google/jsonschema-go (draft-07 and 2020-12; draft-07 when
//     the schema names none, as the reference's modules write; other
//     $schema values are refused), with a loader that refuses every URL,
//     so a schema that refers to anything outside itself is refused rather
//     than fetched; a recursive schema, or one that unfolds to more than
//     maxUnfolded subschemas, is refused too (cycles.go: the library
//     would recurse until the stack overflows, or take exponential time);
//   - a PUT is a partial update at the top level (the admin page sends only
//     the fields that changed, so write-only secrets it never saw are kept),
//     where null removes a member; the merged document is validated and
//     each failing member is reported with its instance path (the library
//     gives only its first failure, as text: locate.go reads the path back
//     and Validate asks again without the member at fault; "format" and
//     the content keywords are not checked by the library);
//   - members the schema does not declare (auto-wire's auth block in
//     scribe's config.json, an operator's hand edits) are kept as they are
//     and are not validated;
//   - secrets (writeOnly or format "password") are never sent back.
//
// The package does no HTTP and starts no process: internal/hub decodes the
// request, calls Store and restarts the module through modops.
package modconfig
