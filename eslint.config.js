// ESLint for the dashboard's JavaScript (browser ES modules, no build step); prettier owns the layout.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["conveyor/http/dashboard/**/*.js"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: globals.browser },
    rules: {
      // Small functions by view part (STYLE.md): a view is assembled from them, not written as one.
      "max-statements": ["error", 25],
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-var": "error",
      "prefer-const": "error",
      "no-unused-vars": ["error", { args: "after-used" }],
    },
  },
];
