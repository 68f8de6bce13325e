// Package hubclient is the CLI's client for a running hub: it finds the hub
// (PARACHUTE_HUB_URL, else the port the hub recorded, else 1939), reads the
// operator token, and turns API errors into messages that say what to do.
package hubclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/config"
	"github.com/openparachute/parachute/internal/secfile"
)

// Timeouts for the different kinds of request. A start can legitimately
// take as long as a module's readiness window; reads should be quick.
const (
	HealthTimeout = 1500 * time.Millisecond
	ReadTimeout   = 5 * time.Second
	OpTimeout     = 2*time.Minute + 10*time.Second
)

// ErrHubNotRunning means nothing answered /health at the hub URL.
var ErrHubNotRunning = errors.New("the hub is not running")

// HTTPError is a non-2xx answer from the hub.
type HTTPError struct {
	Status      int
	Code        api.ErrorCode
	Description string
	Body        []byte
}

func (e *HTTPError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("hub answered %d: %s", e.Status, strings.TrimSpace(string(e.Body)))
	}
	return string(e.Code) + ": " + e.Description
}

// Client talks to one hub.
type Client struct {
	Base      string // e.g. http://127.0.0.1:1939
	BaseFrom  string // where Base came from, for error messages
	TokenPath string
	HTTP      *http.Client
	token     string
}

// Locate returns the hub's base URL and where it came from.
func Locate(p config.Paths) (base, from string) {
	if v := strings.TrimRight(os.Getenv("PARACHUTE_HUB_URL"), "/"); v != "" {
		return v, "PARACHUTE_HUB_URL"
	}
	if b, err := os.ReadFile(p.HubPortFile()); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && port > 0 && port < 65536 {
			return "http://127.0.0.1:" + strconv.Itoa(port), p.HubPortFile()
		}
	}
	return "http://127.0.0.1:" + strconv.Itoa(config.DefaultHubPort), "the default port"
}

// New returns a Client for the hub of config root p.
func New(p config.Paths) *Client {
	base, from := Locate(p)
	return &Client{Base: base, BaseFrom: from, TokenPath: p.OperatorToken(),
		HTTP: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}}
}

// Token reads the operator token once. A token file that is a symlink or
// not a regular file is refused: what it points at would be sent to the hub
// URL (which hub.port, in the same root, decides) as a bearer token.
func (c *Client) Token() (string, error) {
	if c.token != "" {
		return c.token, nil
	}
	b, err := secfile.ReadFile(c.TokenPath)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w at %s — start the hub once (`parachute serve` or `parachute init`) or run `parachute auth rotate-operator` to mint one", config.ErrNoOperatorToken, c.TokenPath)
	}
	if err != nil {
		return "", fmt.Errorf("reading the operator token: %w (whoever can read %s is the operator)", err, c.TokenPath)
	}
	c.token = strings.TrimSpace(string(b))
	if c.token == "" {
		return "", fmt.Errorf("%w: %s is empty — run `parachute auth rotate-operator`", config.ErrNoOperatorToken, c.TokenPath)
	}
	return c.token, nil
}

// Health probes /health. A connection failure is ErrHubNotRunning.
func (c *Client) Health(ctx context.Context) (*api.HealthResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	var h api.HealthResponse
	if err := c.do(ctx, http.MethodGet, "/health", false, nil, &h); err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			return nil, err
		}
		return nil, fmt.Errorf("%w at %s (%s): %v", ErrHubNotRunning, c.Base, c.BaseFrom, err)
	}
	return &h, nil
}

// Modules reads GET /api/modules.
func (c *Client) Modules(ctx context.Context) (*api.ModulesResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	var m api.ModulesResponse
	if err := c.do(ctx, http.MethodGet, "/api/modules", true, nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ModuleOp POSTs /api/modules/<short>/<op> (start, stop, restart). On a
// non-2xx answer it returns the decoded body too, with an *HTTPError.
func (c *Client) ModuleOp(ctx context.Context, short, op string) (*api.StateBody, error) {
	ctx, cancel := context.WithTimeout(ctx, OpTimeout)
	defer cancel()
	var b api.StateBody
	err := c.do(ctx, http.MethodPost, "/api/modules/"+url.PathEscape(short)+"/"+op, true, nil, &b)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%s %s: the hub did not answer within %s — check `parachute logs %s` and `parachute status`", op, short, OpTimeout, short)
	}
	return &b, err
}

// Logs reads the last n lines of a module's in-memory log.
func (c *Client) Logs(ctx context.Context, short string, n int) (*api.LogsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	var l api.LogsResponse
	if err := c.do(ctx, http.MethodGet, "/api/modules/"+url.PathEscape(short)+"/logs?lines="+strconv.Itoa(n), true, nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// FollowLogs streams a module's log to w until ctx ends or the hub closes
// the stream.
func (c *Client) FollowLogs(ctx context.Context, short string, n int, w io.Writer) error {
	tok, err := c.Token()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/api/modules/"+url.PathEscape(short)+"/logs?follow=1&lines="+strconv.Itoa(n), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w at %s: %v", ErrHubNotRunning, c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeError(resp)
	}
	br := bufio.NewReader(resp.Body)
	_, err = io.Copy(w, br)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Client) do(ctx context.Context, method, path string, authed bool, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if authed {
		tok, err := c.Token()
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if out != nil && len(data) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(data, out) // error bodies decode too (StateBody)
	}
	if resp.StatusCode/100 != 2 {
		return errorFromBody(resp.StatusCode, data)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return errorFromBody(resp.StatusCode, data)
}

func errorFromBody(status int, data []byte) error {
	e := &HTTPError{Status: status, Body: data}
	var env api.Error
	if json.Unmarshal(data, &env) == nil {
		e.Code, e.Description = env.Code, env.Description
	}
	return e
}

// JSON sends an authenticated request with an optional JSON body and decodes
// the JSON answer into out, within ReadTimeout. A hub that cannot be reached
// is ErrHubNotRunning; a non-2xx answer is an *HTTPError.
func (c *Client) JSON(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	err := c.do(ctx, method, path, true, body, out)
	var he *HTTPError
	if err != nil && !errors.As(err, &he) && !errors.Is(err, config.ErrNoOperatorToken) {
		return fmt.Errorf("%w at %s: %v", ErrHubNotRunning, c.Base, err)
	}
	return err
}

// MintToken asks the running hub to mint a token (POST
// /api/auth/mint-token) with the operator token. The hub signs it with the
// issuer it hands its modules, so a module that pins iss accepts it.
func (c *Client) MintToken(ctx context.Context, req api.MintTokenRequest) (*api.MintTokenResponse, error) {
	var out api.MintTokenResponse
	if err := c.JSON(ctx, http.MethodPost, "/api/auth/mint-token", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
