package twofactor

import (
	"fmt"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// quietZone is the blank border, in modules, that ISO/IEC 18004 requires
// around a QR code for scanners to find it.
const quietZone = 4

// QRSVG renders content (an otpauth:// URL) as a self-contained SVG document
// for inlining in the enrolment page: no script, no external reference, one
// path of dark modules on a white background, scaling with its container.
//
// Why boombuler/barcode: pquerna/otp already depends on it (Key.Image), so it
// adds no module to the build, and its encoder picks the smallest version
// for the content. We only turn its module matrix into SVG; the encoding
// (Reed-Solomon, masking) is the library's.
func QRSVG(content string) (string, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("encoding QR code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	size := n + 2*quietZone
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="TOTP QR code">`, size, size)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA(); r == 0 {
				fmt.Fprintf(&sb, "M%d %dh1v1h-1z", x+quietZone, y+quietZone)
			}
		}
	}
	sb.WriteString(`"/></svg>`)
	return sb.String(), nil
}
