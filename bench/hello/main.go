// Command hello is the benchmarks' floor for a CLI verb's process start:
// the smallest Go program that prints a line.
package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
