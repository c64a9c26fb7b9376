/* The demo page, embedded in the binary at build time: the server needs
 * no file system access to serve it. */
    .section .rodata
    .global sse_demo_html
    .global sse_demo_html_end
sse_demo_html:
    .incbin "sse-server/demo.html"
sse_demo_html_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
