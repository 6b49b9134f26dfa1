// Lint: typescript-eslint's recommended rules, plus the DOM and messaging security rules of
// docs/ARCHITECTURE.md ("Security rules"): no innerHTML/outerHTML/insertAdjacentHTML/
// document.write (Mozilla's no-unsanitized plugin, and our own selectors so even a "sanitized"
// call is refused), no eval, new Function or string timers, and no external messaging.
// test/unit/lint-rules.test.ts proves each rule fires on a bad snippet.
import js from '@eslint/js';
import globals from 'globals';
import noUnsanitized from 'eslint-plugin-no-unsanitized';
import tseslint from 'typescript-eslint';

const buildNodes = 'Build DOM nodes instead (docs/ARCHITECTURE.md, "Security rules").';

const unsafeDom = ['innerHTML', 'outerHTML'].map((property) => ({
  selector: `AssignmentExpression > MemberExpression.left[property.name='${property}']`,
  message: `Do not assign ${property}: build DOM nodes (docs/ARCHITECTURE.md, "Security rules").`,
}));

/** setTimeout("code") / setInterval("code"): eval by another name (no-implied-eval misses some forms). */
const stringTimers = ['setTimeout', 'setInterval'].flatMap((fn) => [
  { selector: `CallExpression[callee.name='${fn}'] > Literal.arguments:first-child`, message: `${fn} with a string is eval.` },
  { selector: `CallExpression[callee.name='${fn}'] > TemplateLiteral.arguments:first-child`, message: `${fn} with a string is eval.` },
  { selector: `CallExpression[callee.property.name='${fn}'] > Literal.arguments:first-child`, message: `${fn} with a string is eval.` },
]);

export default tseslint.config(
  { ignores: ['dist/', 'dist-firefox/', 'dist-test/', 'dist-firefox-test/', 'node_modules/', 'artifacts/', '.cache/', 'models/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  noUnsanitized.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.node, ...globals.webextensions },
    },
    rules: {
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-restricted-globals': ['error', { name: 'Function', message: 'new Function is eval (docs/ARCHITECTURE.md, "Security rules").' }],
      'no-restricted-syntax': [
        'error',
        ...unsafeDom,
        ...stringTimers,
        { selector: "NewExpression[callee.name='Function']", message: 'new Function is eval (docs/ARCHITECTURE.md, "Security rules").' },
      ],
      'no-restricted-properties': [
        'error',
        { property: 'insertAdjacentHTML', message: buildNodes },
        { object: 'document', property: 'write', message: buildNodes },
        { object: 'document', property: 'writeln', message: buildNodes },
        { property: 'createContextualFragment', message: buildNodes },
        { property: 'setHTMLUnsafe', message: buildNodes },
        { property: 'parseHTMLUnsafe', message: buildNodes },
        // Other extensions and web pages may not message us (docs/ARCHITECTURE.md, "Security rules").
        { property: 'onMessageExternal', message: 'No external messaging (docs/ARCHITECTURE.md, "Security rules").' },
        { property: 'onConnectExternal', message: 'No external messaging (docs/ARCHITECTURE.md, "Security rules").' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
