{
  "target_defaults": {
    "include_dirs": ["<!@(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2"]
  },
  "targets": [
    {
      "comment": "every kernel surface; corosync's libraries are dlopened when that surface is first used (native/corosync_api.h), so nothing beyond libstdc++ (and libdl) is linked and one build serves every machine",
      "target_name": "ocfs2_stack",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).map(f => 'native/' + f).join(' ')\")"],
      "libraries": ["-ldl"]
    }
  ]
}
