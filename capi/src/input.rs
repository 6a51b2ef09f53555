//! Decoding the JSON parameters of the C API.
//!
//! The shape is checked at once: text that is not JSON, or JSON that is not of the documented
//! shape (an object where an object is expected, keys of the right types, enum values that
//! exist), is `TIM_ERR_JSON`, returned by the call. Values of the right shape that an operation
//! refuses (a malformed conversation ID, an empty batch) are the callback's code, decided by the
//! operation itself. Every record type decodes through its serde form in `timconv`, with the
//! original JSON keys.

use std::ffi::c_int;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use timconv::{ConversationId, ConversationType};

use crate::codes::{Failure, TIM_ERR_JSON};

/// `text` as a JSON object decoded into `T` (a JSON array, which serde would also accept for a
/// struct, is refused).
pub(crate) fn object<T: DeserializeOwned>(text: &str) -> Result<T, c_int> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => serde_json::from_value(value).map_err(|err| {
            tracing::debug!(error = %err, "a JSON parameter of the wrong shape");
            TIM_ERR_JSON
        }),
        Ok(_) => Err(TIM_ERR_JSON),
        Err(err) => {
            tracing::debug!(error = %err, "a parameter that is not JSON");
            Err(TIM_ERR_JSON)
        }
    }
}

/// `text` as a JSON array decoded into `Vec<T>`.
pub(crate) fn array<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, c_int> {
    serde_json::from_str(text).map_err(|err| {
        tracing::debug!(error = %err, "a JSON array parameter of the wrong shape");
        TIM_ERR_JSON
    })
}

/// A conversation ID array (`conversation_id_array`): a JSON array of strings. The IDs are
/// checked by [`conversation_ids`] when the call is carried out.
pub(crate) fn id_strings(text: &str) -> Result<Vec<String>, c_int> {
    array(text)
}

/// Full conversation IDs (`c2c_…`, `group_…`); a malformed one fails the call with 6017.
pub(crate) fn conversation_ids(ids: &[String]) -> Result<Vec<ConversationId>, Failure> {
    ids.iter()
        .map(|id| id.parse::<ConversationId>().map_err(Failure::from))
        .collect()
}

/// A conversation named the legacy way: raw ID and `TIMConvType` (6017 for a type that names
/// none, 0 or the deprecated system type, or an empty ID).
pub(crate) fn legacy_id(conv_id: &str, conv_type: c_int) -> Result<ConversationId, Failure> {
    let kind = u32::try_from(conv_type)
        .ok()
        .and_then(ConversationType::from_u32)
        .ok_or_else(|| {
            Failure::invalid(format!(
                "conversation type {conv_type} names no conversation"
            ))
        })?;
    ConversationId::new(kind, conv_id).map_err(Failure::from)
}

/// One element of `TIMConvGetConvInfo`'s parameter.
#[derive(Debug, Deserialize)]
pub(crate) struct GetConvInfoParam {
    #[serde(rename = "get_conversation_list_param_conv_id")]
    pub(crate) conv_id: String,
    #[serde(rename = "get_conversation_list_param_conv_type")]
    pub(crate) conv_type: ConversationType,
}

/// `TIMConvGetConvInfo`'s parameter: a JSON array of objects.
pub(crate) fn get_conv_info_params(text: &str) -> Result<Vec<GetConvInfoParam>, c_int> {
    let values: Vec<Value> = array(text)?;
    values
        .into_iter()
        .map(|v| match v {
            v @ Value::Object(_) => serde_json::from_value(v).map_err(|_| TIM_ERR_JSON),
            _ => Err(TIM_ERR_JSON),
        })
        .collect()
}

/// `TIMInit`'s `json_sdk_config`. Other SdkConfig keys of the original SDK are accepted and
/// ignored, as this library has no use for them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SdkConfig {
    /// The data directory.
    #[serde(rename = "sdk_config_config_file_path", default)]
    pub(crate) config_file_path: Option<String>,
    /// Accepted for compatibility; logs go through `tracing`.
    #[serde(rename = "sdk_config_log_file_path", default)]
    pub(crate) log_file_path: Option<String>,
    /// Accepted for compatibility; callbacks run on the callback thread.
    #[serde(rename = "sdk_config_main_thread_id", default)]
    pub(crate) main_thread_id: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use timconv::{ConversationFilter, Draft};

    #[test]
    fn objects_must_be_objects_of_the_right_types() {
        assert!(object::<ConversationFilter>("{}").is_ok());
        assert_eq!(object::<ConversationFilter>("[]").err(), Some(TIM_ERR_JSON));
        assert_eq!(
            object::<ConversationFilter>("[2]").err(),
            Some(TIM_ERR_JSON)
        );
        assert_eq!(object::<ConversationFilter>("{").err(), Some(TIM_ERR_JSON));
        assert_eq!(
            object::<ConversationFilter>(r#"{"conversation_list_filter_conv_type":"2"}"#).err(),
            Some(TIM_ERR_JSON)
        );
        assert_eq!(
            object::<ConversationFilter>(r#"{"conversation_list_filter_conv_type":9}"#).err(),
            Some(TIM_ERR_JSON)
        );
        assert_eq!(
            object::<Draft>(r#"{"draft_msg":5}"#).err(),
            Some(TIM_ERR_JSON)
        );
        assert_eq!(
            object::<SdkConfig>(r#"{"sdk_config_config_file_path":1}"#).err(),
            Some(TIM_ERR_JSON)
        );
    }

    #[test]
    fn id_arrays_are_strings_and_ids_are_checked_later() {
        assert_eq!(id_strings(r#"["c2c_a", 1]"#), Err(TIM_ERR_JSON));
        assert_eq!(id_strings(r#"{"a":1}"#), Err(TIM_ERR_JSON));
        let ids = id_strings(r#"["c2c_a","bob"]"#).expect("strings");
        assert_eq!(conversation_ids(&ids).expect_err("bob").code, 6017);
    }

    #[test]
    fn legacy_ids_need_a_real_type() {
        assert_eq!(legacy_id("a", 1).map(|i| i.to_string()), Ok("c2c_a".into()));
        assert_eq!(
            legacy_id("a", 2).map(|i| i.to_string()),
            Ok("group_a".into())
        );
        for bad in [0, 3, -1, 99] {
            assert_eq!(legacy_id("a", bad).expect_err("refused").code, 6017);
        }
        assert_eq!(legacy_id("", 1).expect_err("empty").code, 6017);
    }

    #[test]
    fn get_conv_info_params_are_objects() {
        let ok = get_conv_info_params(
            r#"[{"get_conversation_list_param_conv_id":"98826","get_conversation_list_param_conv_type":1}]"#,
        )
        .expect("valid");
        assert_eq!(
            (ok[0].conv_id.as_str(), ok[0].conv_type),
            ("98826", ConversationType::C2c)
        );
        assert_eq!(get_conv_info_params("[[]]").err(), Some(TIM_ERR_JSON));
        assert_eq!(
            get_conv_info_params(r#"[{"get_conversation_list_param_conv_id":"a"}]"#).err(),
            Some(TIM_ERR_JSON)
        );
    }
}
