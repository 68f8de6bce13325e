package twofactor

import (
	"image"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

var (
	viewBoxRE = regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`)
	moduleRE  = regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`)
)

// rasterize draws the SVG's modules at scale pixels each; it understands
// only the path shape QRSVG writes, which is the point: anything else fails.
func rasterize(t *testing.T, svg string, scale int) image.Image {
	t.Helper()
	m := viewBoxRE.FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no viewBox in %.80s", svg)
	}
	size, _ := strconv.Atoi(m[1])
	img := image.NewGray(image.Rect(0, 0, size*scale, size*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, mm := range moduleRE.FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(mm[1])
		y, _ := strconv.Atoi(mm[2])
		for dy := range scale {
			for dx := range scale {
				img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
			}
		}
	}
	return img
}

// TestQRSVGDecodes renders otpauth URLs and reads them back with an
// independent decoder (ZXing's Go port).
func TestQRSVGDecodes(t *testing.T) {
	k, err := NewKey("alice@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"otpauth":      k.URL,
		"long account": "otpauth://totp/Parachute%20Hub:" + strings.Repeat("x", 200) + "?secret=" + k.Secret,
	} {
		t.Run(name, func(t *testing.T) {
			svg, err := QRSVG(content)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"<script", "href", "javascript:"} {
				if strings.Contains(svg, bad) {
					t.Errorf("SVG contains %q", bad)
				}
			}
			if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg"`) || !strings.HasSuffix(svg, "</svg>") {
				t.Errorf("not a standalone SVG element: %.80s…", svg)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(rasterize(t, svg, 4))
			if err != nil {
				t.Fatal(err)
			}
			res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("decoding the rendered QR: %v", err)
			}
			if res.GetText() != content {
				t.Errorf("decoded %q; want %q", res.GetText(), content)
			}
		})
	}
}

func TestQRSVGTooLong(t *testing.T) {
	if _, err := QRSVG(strings.Repeat("x", 5000)); err == nil {
		t.Error("5000 bytes encoded; want an error (beyond QR version 40)")
	}
}
