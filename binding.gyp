{
  "variables": {
    "o2s_corosync%": "<!(pkg-config --exists libcpg libquorum libcmap 2>/dev/null && echo 1 || echo 0)"
  },
  "target_defaults": {
    "include_dirs": ["<!@(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2"]
  },
  "targets": [
    {
      "comment": "every kernel surface but corosync: links nothing beyond libstdc++, so it loads fast",
      "target_name": "ocfs2_stack",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc') && f !== 'corosync.cc').map(f => 'native/' + f).join(' ')\")"]
    },
    {
      "comment": "the corosync surface, loaded on first use (libcpg, libquorum, libcmap and theirs are many libraries to map)",
      "target_name": "ocfs2_stack_corosync",
      "sources": ["native/addon.cc", "native/corosync.cc"],
      "conditions": [
        ["o2s_corosync==1", {
          "defines": ["O2S_HAVE_COROSYNC=1"],
          "cflags_cc": ["<!@(pkg-config --cflags libcpg libquorum libcmap)"],
          "libraries": ["<!@(pkg-config --libs libcpg libquorum libcmap)"]
        }]
      ]
    }
  ]
}
