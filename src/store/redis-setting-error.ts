/** A Redis setting the store cannot open: a fault of the config key that holds it (`setting` names which), not of the installation or of Redis. */
export class RedisSettingError extends TypeError {
  constructor(
    readonly setting: 'url',
    message: string,
  ) {
    super(message)
  }
}
