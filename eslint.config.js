// Lint: typescript-eslint's recommended rules, plus the DOM security rules of DESIGN.md
// (no innerHTML/outerHTML/insertAdjacentHTML/document.write, no eval or new Function).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const unsafeDom = ['innerHTML', 'outerHTML'].map((property) => ({
  selector: `AssignmentExpression > MemberExpression.left[property.name='${property}']`,
  message: `Do not assign ${property}: build DOM nodes (DESIGN.md, security rules).`,
}));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'artifacts/', '.cache/', 'models/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
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
      'no-restricted-syntax': ['error', ...unsafeDom],
      'no-restricted-properties': [
        'error',
        { property: 'insertAdjacentHTML', message: 'Build DOM nodes instead (DESIGN.md).' },
        { object: 'document', property: 'write', message: 'Build DOM nodes instead (DESIGN.md).' },
        { object: 'document', property: 'writeln', message: 'Build DOM nodes instead (DESIGN.md).' },
        { property: 'createContextualFragment', message: 'Build DOM nodes instead (DESIGN.md).' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
);
