{
  "targets": [
    {
      "target_name": "gpio_chardev",
      "sources": ["gpio_chardev.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
