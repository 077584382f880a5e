// `tokengate rotate-secret-key`'s usage text, apart so that `tokengate help` loads nothing else.
export const ROTATE_SECRET_KEY_USAGE = `  rotate-secret-key [--dry-run]
                        re-encrypt stored provider credentials with TOKENGATE_SECRET_KEY (older keys
                        from TOKENGATE_PREVIOUS_SECRET_KEYS); then those keys can be dropped`;
